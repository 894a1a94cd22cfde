package sffn.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import sffn.kernels.Attention;

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

    /**
     * Whole sequences (forward) or key/value heads (backward) as work items, each thread preparing
     * its own keys and values, give the bits of the schedule that prepares them all first (whose
     * results AttentionTest checks against float64), whatever the thread count: outputs poisoned
     * with NaN before each run, so an unwritten element fails.
     */
    @ParameterizedTest
    @CsvSource({"5,37,4,2,16", "4,53,3,3,64", "6,100,2,1,32", "4,97,4,4,64", "3,49,6,2,48"})
    void bothSchedulesGiveTheSameBits(int batch, int seqLen, int nq, int nkv, int d) {
        Assumptions.assumeTrue(FusedAttention.fits(d), "the fused body needs AVX-512");
        java.util.Random rnd = new java.util.Random(seqLen * 31 + d);
        float[] qkv = new float[batch * seqLen * (nq + 2 * nkv) * d];
        float[] dout = new float[batch * seqLen * nq * d];
        for (int i = 0; i < qkv.length; i++) qkv[i] = (float) rnd.nextGaussian();
        for (int i = 0; i < dout.length; i++) dout[i] = (float) rnd.nextGaussian();
        float[][] shared = run(Integer.MAX_VALUE, qkv, dout, batch, seqLen, nq, nkv, d);
        float[][] own = run(0, qkv, dout, batch, seqLen, nq, nkv, d);
        String[] names = {"out", "lse", "delta", "dqkv"};
        for (int i = 0; i < names.length; i++) {
            for (int j = 0; j < shared[i].length; j++) {
                assertTrue(!Float.isNaN(shared[i][j]), names[i] + "[" + j + "] unwritten or NaN");
                assertEquals(Float.floatToRawIntBits(shared[i][j]), Float.floatToRawIntBits(own[i][j]),
                        names[i] + "[" + j + "]: " + shared[i][j] + " against " + own[i][j]);
            }
        }
    }

    private static float[][] run(int itemsPerThread, float[] qkv, float[] dout, int batch, int seqLen, int nq, int nkv,
                                 int d) {
        float[] out = nan(dout.length);
        float[] lse = nan(batch * nq * seqLen);
        float[] delta = nan(batch * nq * seqLen);
        float[] dqkv = nan(qkv.length);
        int saved = FusedAttention.itemsPerThread;
        FusedAttention.itemsPerThread = itemsPerThread;
        try {
            Attention.forwardCpu(qkv, out, lse, batch, seqLen, nq, nkv, d);
            Attention.backwardCpu(dout, qkv, out, lse, delta, dqkv, batch, seqLen, nq, nkv, d);
        } finally {
            FusedAttention.itemsPerThread = saved;
        }
        return new float[][] {out, lse, delta, dqkv};
    }

    private static float[] nan(int n) {
        float[] f = new float[n];
        java.util.Arrays.fill(f, Float.NaN);
        return f;
    }
}
