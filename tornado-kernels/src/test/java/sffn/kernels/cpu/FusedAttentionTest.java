package sffn.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The fused body's schedule helpers; its results are checked against float64 in AttentionTest. */
class FusedAttentionTest {

    /** Every head is handed out once, and two items in a row are never neighbouring heads (past two heads). */
    @Test
    void headOrderIsAPermutationWithNeighboursApart() {
        for (int n = 1; n <= 33; n++) {
            boolean[] seen = new boolean[n];
            for (int i = 0; i < n; i++) {
                int h = FusedAttention.apart(i, n);
                assertTrue(h >= 0 && h < n, "n=" + n + " item " + i + " gave head " + h);
                assertTrue(!seen[h], "n=" + n + ": head " + h + " twice");
                seen[h] = true;
                if (i > 0 && n > 3) {
                    assertTrue(Math.abs(h - FusedAttention.apart(i - 1, n)) > 1, "n=" + n + " items " + (i - 1) + ", " + i);
                }
            }
        }
    }

    /** Rows packed in chunks of 64 columns: the layout the products index with a constant stride. */
    @Test
    void chunkedRowsHoldEveryColumn() {
        int seqLen = 5;
        int stride = 200;
        for (int d : new int[] {16, 64, 80, 128}) {
            float[] src = new float[seqLen * stride + 7];
            for (int i = 0; i < src.length; i++) src[i] = i;
            float[] dst = new float[FusedAttention.chunked(seqLen, d) + 3];
            java.util.Arrays.fill(dst, Float.NaN);
            FusedAttention.packChunks(src, 7, stride, seqLen, d, dst, 3);
            for (int u = 0; u < seqLen; u++) {
                for (int e = 0; e < d; e++) {
                    assertEquals(src[7 + u * stride + e], dst[3 + (e / 64) * seqLen * 64 + u * 64 + e % 64], "d=" + d);
                }
            }
        }
    }
}
