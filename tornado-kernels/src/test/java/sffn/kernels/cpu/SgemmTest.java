package sffn.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Sgemm against a float64 reference on every transpose combination, with offsets, padded
 * leading dimensions and sizes that are not multiples of the vector length, the 6-row
 * micro-tile, the 48-column panel or the K block.
 *
 * <p>Bound: the float32 result may differ from the exact sum by the standard a-priori bound
 * of a k-term dot product in any summation order, {@code gamma(k+1) * (sum |a_ik b_kj| + |c0|)}
 * with {@code gamma(n) = n u / (1 - n u)}, {@code u = 2^-24} (one more term for the addend).
 * An unwritten output stays NaN (outputs are poisoned before each run) and fails, as does
 * any write outside the C view.
 */
class SgemmTest {
    private static final double U = 0x1p-24;

    /**
     * Sizes: 1, odd primes around the vector length, K block (512; one block up to 768) and panel
     * (48) boundaries.
     */
    static Stream<Arguments> shapes() {
        int[][] mnk = {
                {1, 1, 1}, {7, 17, 33}, {95, 97, 130}, {130, 7, 385}, {17, 513, 95}, {513, 33, 17},
                {33, 130, 513}, {97, 95, 7}, {385, 1, 97}, {1, 385, 1}, {7, 1, 513}, {130, 130, 1},
                {33, 40, 769}, {9, 50, 768},
                // the few-rows path of A . B^T (m <= Sgemm.DOT_MAX_M) and its boundary
                {16, 130, 385}, {64, 97, 513}, {65, 33, 17}, {2, 49, 16}, {3, 48, 47},
                // one row on all threads (decoding's matvec: a run of B's rows per thread)
                {1, 131, 801},
                // several chunks of B's rows per thread (Touch.CHUNK_BYTES: 24 rows at this K), the
                // last one partial, with 8-row tiles and rows left over
                {9, 131, 2001}, {13, 100, 2050},
                // several K blocks, column blocks and row blocks at once: the multi-threaded split,
                // and with more than two row blocks the schedule that packs each block of B once
                {193, 420, 900}, {400, 300, 450},
                // a transposed A of more rows than one shared packing of it holds (row chunks), two K blocks
                {4100, 20, 830},
                // thin products with a long K (LowRank's weight gradients): K blocks split over threads
                {64, 300, 1100}, {65, 64, 1030},
        };
        List<Arguments> out = new ArrayList<>();
        for (int[] s : mnk) {
            for (int layout = 0; layout < 4; layout++) {
                out.add(Arguments.of(s[0], s[1], s[2], (layout & 2) != 0, (layout & 1) != 0));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "m={0} n={1} k={2} transA={3} transB={4}")
    @MethodSource("shapes")
    void matchesFloat64Reference(int m, int n, int k, boolean transA, boolean transB) {
        for (boolean accumulate : new boolean[] {false, true}) {
            Case c = new Case(m, n, k, transA, transB, accumulate, new SplittableRandom(31L * m + 7L * n + k));
            c.run(true);
            c.check();
            c.run(false);
            c.check();
        }
    }

    /** Minimal leading dimensions, no offsets and arrays that end with the view: nothing is read past them. */
    @ParameterizedTest(name = "m={0} n={1} k={2} transA={3} transB={4}")
    @MethodSource("tightShapes")
    void tightArraysAreNotOverrun(int m, int n, int k, boolean transA, boolean transB) {
        SplittableRandom r = new SplittableRandom(5L * m + n);
        float[] a = new float[m * k];
        float[] b = new float[k * n];
        for (int i = 0; i < a.length; i++) a[i] = (float) r.nextDouble();
        for (int i = 0; i < b.length; i++) b[i] = (float) r.nextDouble();
        float[] c = new float[m * n];
        java.util.Arrays.fill(c, Float.NaN);
        Sgemm.gemm(transA, transB, m, n, k, a, 0, transA ? m : k, b, 0, transB ? k : n, c, 0, n, false);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int kk = 0; kk < k; kk++) {
                    s += (double) (transA ? a[kk * m + i] : a[i * k + kk]) * (transB ? b[j * k + kk] : b[kk * n + j]);
                }
                double err = Math.abs(c[i * n + j] - s);
                if (!(err <= (k + 1) * U * s)) fail("C[" + i + "," + j + "] = " + c[i * n + j] + ", float64 " + s);
            }
        }
    }

    static Stream<Arguments> tightShapes() {
        List<Arguments> out = new ArrayList<>();
        for (int m : new int[] {1, 5, 7, 8, 13, 14, 15}) {
            for (int layout = 0; layout < 4; layout++) {
                out.add(Arguments.of(m, 9, 11, (layout & 2) != 0, (layout & 1) != 0));
                out.add(Arguments.of(m, 50, 70, (layout & 2) != 0, (layout & 1) != 0));
            }
        }
        return out.stream();
    }

    /** B packed once, then used for column prefixes of it: the same as the packed path of gemm. */
    @ParameterizedTest(name = "m={0} n={1} k={2} transA={3} transB={4}")
    @CsvSource({"100,130,70,false,true", "97,50,400,true,false", "70,48,33,false,false", "7,200,17,true,true"})
    void prepackedBMatchesGemm(int m, int n, int k, boolean transA, boolean transB) {
        SplittableRandom r = new SplittableRandom(m + 3L * n);
        int lda = transA ? m : k;
        int ldb = transB ? k : n;
        float[] a = new float[m * k];
        float[] b = new float[k * n];
        for (int i = 0; i < a.length; i++) a[i] = (float) (2 * r.nextDouble() - 1);
        for (int i = 0; i < b.length; i++) b[i] = (float) (2 * r.nextDouble() - 1);
        float[] bp = new float[Sgemm.packedBSize(k, n) + 5];
        Sgemm.packB(transB, k, n, b, 0, ldb, bp, 5);
        for (int cols : new int[] {n, n / 2 + 1, 1}) {
            float[] want = new float[m * cols];
            Sgemm.gemmSerial(transA, transB, m, cols, k, a, 0, lda, b, 0, ldb, want, 0, cols, false);
            float[] got = new float[m * cols];
            Arrays.fill(got, Float.NaN);
            Sgemm.gemmSerialPackedB(transA, m, cols, k, a, 0, lda, bp, 5, n, got, 0, cols, false);
            if (!transA && transB && m <= Sgemm.DOT_MAX_M) {
                // gemm took the few-rows path: another summation order, so compare within the bound.
                for (int i = 0; i < got.length; i++) {
                    if (!(Math.abs(got[i] - want[i]) <= 2 * (k + 1) * U * k)) fail("C[" + i + "] " + got[i] + " vs " + want[i]);
                }
            } else {
                assertArrayEquals(want, got, cols + " columns of B packed for " + n);
            }
        }
    }

    @Test
    void sizeZeroAndEmptyK() {
        float[] c = {1f, 2f, 3f, 4f};
        Sgemm.gemm(false, true, 0, 2, 3, new float[0], 0, 3, new float[6], 0, 3, c, 0, 2, false);
        Sgemm.gemm(false, true, 2, 0, 3, new float[6], 0, 3, new float[0], 0, 3, c, 0, 2, false);
        assertArrayEquals(new float[] {1f, 2f, 3f, 4f}, c);
        // k = 0: the product is empty, so C becomes 0, or stays as it was when accumulating.
        Sgemm.gemm(false, false, 1, 2, 0, new float[0], 0, 1, new float[0], 0, 2, c, 0, 2, true);
        assertArrayEquals(new float[] {1f, 2f, 3f, 4f}, c);
        Sgemm.gemm(false, false, 1, 2, 0, new float[0], 0, 1, new float[0], 0, 2, c, 1, 2, false);
        assertArrayEquals(new float[] {1f, 0f, 0f, 4f}, c);
    }

    /**
     * Deterministic: repeated runs give the same bits, and the multi-threaded call gives the same
     * bits as the single-threaded one (the work split must not change any summation order).
     */
    @ParameterizedTest(name = "m={0} n={1} k={2} transA={3} transB={4}")
    @MethodSource("determinismShapes")
    void sameBitsEveryRunAndThreadCount(int m, int n, int k, boolean transA, boolean transB) {
        Case c = new Case(m, n, k, transA, transB, true, new SplittableRandom(99));
        float[] first = null;
        for (int rep = 0; rep < 3; rep++) {
            c.run(true);
            if (first == null) {
                first = c.c.clone();
            } else {
                assertArrayEquals(first, c.c, "run " + rep + " differs from run 0");
            }
        }
        c.run(false);
        assertArrayEquals(first, c.c, "the single-threaded result differs from the multi-threaded one");
    }

    /**
     * On the few-rows path a row's result does not depend on how many rows share the product:
     * decoding a sequence alone or in a batch gives the same bits (the matvec at one row, the
     * tiles above it; a shape large enough to run on all threads).
     */
    @ParameterizedTest(name = "m={0} n={1} k={2}")
    @CsvSource({"11,131,801", "8,67,1600", "5,200,1000", "9,131,2001"})
    void aRowGetsTheSameBitsAtEveryRowCountOfTheFewRowsPath(int m, int n, int k) {
        SplittableRandom r = new SplittableRandom(7);
        float[] a = new float[m * k];
        float[] b = new float[n * k];
        for (int i = 0; i < a.length; i++) a[i] = (float) (r.nextDouble() * 2 - 1);
        for (int i = 0; i < b.length; i++) b[i] = (float) (r.nextDouble() * 2 - 1);
        float[] all = new float[m * n];
        Arrays.fill(all, Float.NaN);
        Sgemm.gemm(false, true, m, n, k, a, 0, k, b, 0, k, all, 0, n, false);
        for (int i = 0; i < m; i++) {
            float[] one = new float[n];
            Arrays.fill(one, Float.NaN);
            Sgemm.gemm(false, true, 1, n, k, a, i * k, k, b, 0, k, one, 0, n, false);
            assertArrayEquals(Arrays.copyOfRange(all, i * n, (i + 1) * n), one, "row " + i + " alone vs among " + m);
        }
    }

    /**
     * Products that split K over the threads by default, forced onto the other schedules (the
     * shared packing of a transposed A, the per-item one): same float64 bound, same bits as the
     * default and as the single-threaded call.
     */
    @ParameterizedTest(name = "m={0} n={1} k={2} transA={3} transB={4}")
    @CsvSource({"400,300,1100,true,false", "4100,20,830,true,false", "64,300,1100,true,false",
            "300,64,1030,true,false", "65,64,1030,false,false"})
    void otherSchedulesGiveTheSameBits(int m, int n, int k, boolean transA, boolean transB) {
        Case c = new Case(m, n, k, transA, transB, true, new SplittableRandom(7L * m + n));
        c.run(true);
        float[] split = c.c.clone();
        long saved = PackedGemm.splitKMax;
        PackedGemm.splitKMax = 0;
        try {
            c.run(true);
            c.check();
            assertArrayEquals(split, c.c, "the split-K schedule and the other one differ");
        } finally {
            PackedGemm.splitKMax = saved;
        }
        c.run(false);
        assertArrayEquals(split, c.c, "the single-threaded result differs");
    }

    static Stream<Arguments> determinismShapes() {
        return Stream.of(
                Arguments.of(200, 500, 500, false, true),
                Arguments.of(200, 500, 500, false, false),
                Arguments.of(200, 500, 500, true, false),
                Arguments.of(200, 500, 500, true, true),
                Arguments.of(400, 300, 450, false, true),
                Arguments.of(400, 300, 450, true, false),
                Arguments.of(4100, 20, 830, true, false),
                Arguments.of(64, 300, 1100, true, false),
                Arguments.of(65, 64, 1030, false, false),
                Arguments.of(16, 700, 770, false, true));
    }

    /** One product with random operands embedded at random offsets in padded arrays. */
    private static final class Case {
        final int m, n, k, lda, ldb, ldc, aOff, bOff, cOff;
        final boolean transA, transB, accumulate;
        final float[] a, b, c0, c;

        Case(int m, int n, int k, boolean transA, boolean transB, boolean accumulate, SplittableRandom r) {
            this.m = m;
            this.n = n;
            this.k = k;
            this.transA = transA;
            this.transB = transB;
            this.accumulate = accumulate;
            lda = (transA ? m : k) + r.nextInt(3);
            ldb = (transB ? k : n) + r.nextInt(3);
            ldc = n + r.nextInt(3);
            aOff = r.nextInt(5);
            bOff = r.nextInt(5);
            cOff = r.nextInt(5);
            // Arrays end right after the view, or a little later: reads past the end must not happen.
            a = random(r, aOff + (transA ? k : m) * lda + r.nextInt(3));
            b = random(r, bOff + (transB ? n : k) * ldb + r.nextInt(3));
            c0 = random(r, cOff + m * ldc + r.nextInt(3));
            c = new float[c0.length];
        }

        private static float[] random(SplittableRandom r, int len) {
            float[] x = new float[len];
            for (int i = 0; i < len; i++) x[i] = (float) (2 * r.nextDouble() - 1);
            return x;
        }

        void run(boolean parallel) {
            System.arraycopy(c0, 0, c, 0, c.length);
            if (!accumulate) {
                for (int i = 0; i < m; i++) java.util.Arrays.fill(c, cOff + i * ldc, cOff + i * ldc + n, Float.NaN);
            }
            if (parallel) {
                Sgemm.gemm(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate);
            } else {
                Sgemm.gemmSerial(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate);
            }
        }

        void check() {
            double gamma = (k + 1) * U / (1 - (k + 1) * U);
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    double mag = 0;
                    for (int kk = 0; kk < k; kk++) {
                        double p = (double) (transA ? a[aOff + kk * lda + i] : a[aOff + i * lda + kk])
                                * (transB ? b[bOff + j * ldb + kk] : b[bOff + kk * ldb + j]);
                        s += p;
                        mag += Math.abs(p);
                    }
                    if (accumulate) {
                        s += c0[cOff + i * ldc + j];
                        mag += Math.abs(c0[cOff + i * ldc + j]);
                    }
                    float got = c[cOff + i * ldc + j];
                    double err = Math.abs(got - s);
                    if (!(err <= gamma * mag)) {
                        fail(String.format("%s: C[%d,%d] = %s, float64 reference %s, error %.3g > bound %.3g",
                                this, i, j, got, s, err, gamma * mag));
                    }
                }
            }
            for (int idx = 0; idx < c.length; idx++) {
                int rel = idx - cOff;
                boolean inside = rel >= 0 && rel / ldc < m && rel % ldc < n;
                if (!inside) {
                    assertEquals(Float.floatToRawIntBits(c0[idx]), Float.floatToRawIntBits(c[idx]),
                            this + ": element " + idx + " outside the C view was written");
                }
            }
        }

        @Override
        public String toString() {
            return String.format("gemm(transA=%b, transB=%b, m=%d, n=%d, k=%d, lda=%d, ldb=%d, ldc=%d, offsets %d/%d/%d, accumulate=%b)",
                    transA, transB, m, n, k, lda, ldb, ldc, aOff, bOff, cOff, accumulate);
        }
    }
}
