package sffn.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The few-rows GEMM path for {@code C[M,N] (+)= A[M,K] . B[N,K]^T} (both operands contiguous
 * along K), as in decoding: no packing, both operands read in place, vectorised along K.
 *
 * <p>Rows of A in groups of 8 take tiles of 8 x 3 rows of B, the rows left tiles of 4 x 6; both
 * keep 24 lane-wise partial dot products in registers (11 or 10 loads per 24 fused
 * multiply-adds); a thread reads its B rows from memory once, a chunk at a time (see
 * {@link #gemm}), reusing each from L1 for every tile of rows of A after the first. With 8 rows
 * in one tile, all the work on a row of B is done in one pass: at 8 x 3072 x 768, streaming
 * distinct copies on both threads, 22.4 against 20.0 GB/s of B (4 x 6 tiles, one pass from
 * memory, one from L1). Each dot product is then: per lane, k = lane, lane + 16, ... in order;
 * the 16 lanes summed by a fixed butterfly (lane j + lane j^8, then ^4, ^2, ^1); then the K mod
 * 16 tail in order. That order depends on K alone, so results are reproducible and independent
 * of the thread count ({@code reduceLanes} is avoided: its order differs between the interpreter
 * and compiled code). The tile method stays small enough for every JIT tier.
 */
final class DotGemm {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_512;
    /** 16-lane vectors (AVX-512): elsewhere the packed path serves all shapes. */
    static final boolean AVAILABLE = FloatVector.SPECIES_PREFERRED.length() >= 16;
    private static final int L = 16;
    private static final int MR = 4;
    private static final int NR = 6;
    /**
     * Each thread's partial-sum tile, allocated once. A fresh array per chunk came from the
     * caller's allocation buffer right behind the output it had just allocated, and with some
     * heap layouts shared cache lines with what the other thread was writing: the two threads'
     * stores then fought over those lines at every tile, and a batch-1 matvec ran 4-5x slower on
     * two threads than with a thread-private array (measured: 75-104 against 21-24 us for a
     * 1024 x 256 product, depending on the padding between input and output). The slack at the
     * end keeps the next object off its last line.
     */
    private static final ThreadLocal<float[]> SUMS = ThreadLocal.withInitial(() -> new float[8 * NR * L + 16]);
    private static final VectorShuffle<Float> SWAP8 = swap(8);
    private static final VectorShuffle<Float> SWAP4 = swap(4);
    private static final VectorShuffle<Float> SWAP2 = swap(2);
    private static final VectorShuffle<Float> SWAP1 = swap(1);

    private DotGemm() {
    }

    private static VectorShuffle<Float> swap(int d) {
        int[] idx = new int[L];
        for (int j = 0; j < L; j++) idx[j] = j ^ d;
        return VectorShuffle.fromArray(S, idx, 0);
    }

    /**
     * Each thread takes one contiguous run of B's rows and walks it in chunks of about
     * {@link #CHUNK_BYTES}: first one load per cache line of the chunk ({@link #touch}), then the
     * tiles over its rows side by side, from L2. A loop of fused multiply-adds that uses each
     * vector of B 8 or 24 times holds too few of B's bytes in flight to stream them at the
     * memory's rate (the out-of-order window fills with arithmetic); a loop of bare loads keeps
     * it full of misses. Java has no prefetch instruction, which would let one loop do both.
     * With a tile's rows a third of the run apart instead (one stream per row, read by the tiles
     * themselves), 8 x 3072 x 768 on both threads of the AMD VM streamed 22.5-27.7 GB/s of B
     * against 34.1-34.9 touched, and Transformer-s decoded at batch 8 at 408-443 tokens/s against
     * 465-530 ({@code -Dsffn.cpu.touch=false}, which keeps the chunks and leaves the loads out,
     * against the default, run by run). Where B is already in cache the extra pass costs about a
     * tenth (8 x 3072 x 768 from L3: 220 against 203 GFLOP/s). The rows of A left after the
     * multiples of 8 read the chunk from L2 too, where they streamed B a second time before. The
     * same chunks did not pay for bf16 weights (Transformer-s at batch 8: 4-8% slower), whose
     * tiles spend more instructions per byte on widening.
     */
    static void gemm(int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                     float[] c, int cOff, int ldc, boolean accumulate, boolean parallel) {
        if (m == 1 && parallel) {
            matvec(n, k, a, aOff, b, bOff, ldb, c, cOff, accumulate);
            return;
        }
        int eights = m - m % 8;
        int chunk = (int) Math.max(NR, CHUNK_BYTES / (4L * NR * k) * NR);
        Workers.Range body = (from, to) -> {
            float[] sums = SUMS.get();
            int touched = 0;
            for (int j0 = from; j0 < to; j0 += chunk) {
                int j1 = Math.min(to, j0 + chunk);
                if (TOUCH) touched += touch(b, bOff + j0 * ldb, j1 - j0, ldb, k);
                if (eights > 0) {
                    for (int j = j0; j < j1; j += 3) {
                        eightRows(eights, k, a, aOff, lda, b, bOff + j * ldb, ldb, Math.min(3, j1 - j), c, cOff + j, ldc, 1,
                                accumulate, sums);
                    }
                }
                if (eights < m) {
                    for (int j = j0; j < j1; j += NR) {
                        rowTiles(eights, m, k, a, aOff, lda, b, bOff + j * ldb, ldb, Math.min(NR, j1 - j), c, cOff + j, ldc, 1,
                                accumulate, sums);
                    }
                }
            }
            sums[sums.length - 1] = touched; // keeps the loads
        };
        if (parallel) {
            Workers.pool().parallelRuns(n, (long) m * n * k, body);
        } else {
            body.run(0, n);
        }
    }

    /** Bytes of B a thread reads ahead of its tiles: a few tiles' worth, well inside a 1-2 MB L2. */
    static final int CHUNK_BYTES = 192 * 1024;
    /** Whether the chunks are read ahead of their tiles ({@code -Dsffn.cpu.touch}, default true). */
    static final boolean TOUCH = !"false".equals(System.getProperty("sffn.cpu.touch"));

    /** One load per 64-byte line of {@code rows} rows of {@code k} floats, {@code ld} apart, from {@code off}. */
    private static int touch(float[] b, int off, int rows, int ld, int k) {
        int s = 0;
        for (int r = 0; r < rows; r++) {
            int o = off + r * ld;
            for (int i = o; i < o + k; i += 16) s += Float.floatToRawIntBits(b[i]);
            s += Float.floatToRawIntBits(b[o + k - 1]);
        }
        return s;
    }

    /**
     * Rows {@code 0 .. m} of A (a multiple of 8), 8 at a time, against {@code cols <= 3} rows of
     * B that lie {@code ldb} apart, from {@code bo}, into the columns of C that lie {@code cs}
     * apart, from {@code co}.
     */
    private static void eightRows(int m, int k, float[] a, int aOff, int lda, float[] b, int bo, int ldb, int cols,
                                  float[] c, int co, int ldc, int cs, boolean accumulate, float[] sums) {
        for (int i = 0; i < m; i += 8) {
            tile8x3(k, a, aOff + i * lda, lda, b, bo, ldb, cols, sums);
            reduce(sums, k, a, aOff + i * lda, lda, 8, b, bo, ldb, cols, c, co + i * ldc, ldc, cs, accumulate);
        }
    }

    /**
     * Rows {@code i0 .. m} of A, up to 4 at a time, against {@code cols} rows of B that lie
     * {@code ldb} apart, from {@code bo}, into the columns of C that lie {@code cs} apart, from
     * {@code co}.
     */
    private static void rowTiles(int i0, int m, int k, float[] a, int aOff, int lda, float[] b, int bo, int ldb, int cols,
                                 float[] c, int co, int ldc, int cs, boolean accumulate, float[] sums) {
        for (int i = i0; i < m; i += MR) {
            int rows = Math.min(MR, m - i);
            tile(k, a, aOff + i * lda, lda, rows, b, bo, ldb, cols, sums);
            reduce(sums, k, a, aOff + i * lda, lda, rows, b, bo, ldb, cols, c, co + i * ldc, ldc, cs, accumulate);
        }
    }

    /**
     * One row of A (decoding at batch 1) on all threads: each takes one contiguous run of B's
     * rows and walks its four quarters side by side (four streams far apart in memory, four
     * independent chains of fused multiply-adds, each vector of A loaded once for all four), the
     * rows left over one at a time, rather than 6 interleaved rows per tile in pieces handed out
     * in turn. A row at a time kept one chain of multiply-adds, each waiting for the last:
     * Transformer-s decoded at 53-58 tokens/s on this project's Intel VM (80-89% of the bytes'
     * limit), against 65-67 (100-104%) with the quarters. Same operations per pair as {@link #tile}.
     */
    private static void matvec(int n, int k, float[] a, int aOff, float[] b, int bOff, int ldb, float[] c, int cOff,
                               boolean accumulate) {
        Workers.pool().parallelRuns(n, (long) n * k, (from, to) -> {
            float[] sums = SUMS.get();
            int h = (to - from) / 4;
            for (int j = from; j < from + h; j++) {
                int bo = bOff + j * ldb;
                int d = h * ldb;
                FloatVector s0 = FloatVector.zero(S);
                FloatVector s1 = FloatVector.zero(S);
                FloatVector s2 = FloatVector.zero(S);
                FloatVector s3 = FloatVector.zero(S);
                for (int kk = 0; kk <= k - L; kk += L) {
                    FloatVector x = FloatVector.fromArray(S, a, aOff + kk);
                    s0 = x.fma(FloatVector.fromArray(S, b, bo + kk), s0);
                    s1 = x.fma(FloatVector.fromArray(S, b, bo + d + kk), s1);
                    s2 = x.fma(FloatVector.fromArray(S, b, bo + 2 * d + kk), s2);
                    s3 = x.fma(FloatVector.fromArray(S, b, bo + 3 * d + kk), s3);
                }
                s0.intoArray(sums, 0);
                s1.intoArray(sums, L);
                s2.intoArray(sums, 2 * L);
                s3.intoArray(sums, 3 * L);
                reduce(sums, k, a, aOff, 0, 1, b, bo, d, 4, c, cOff + j, 0, h, accumulate);
            }
            for (int j = from + 4 * h; j < to; j++) {
                int bo = bOff + j * ldb;
                FloatVector s = FloatVector.zero(S);
                for (int kk = 0; kk <= k - L; kk += L) s = FloatVector.fromArray(S, a, aOff + kk).fma(FloatVector.fromArray(S, b, bo + kk), s);
                s.intoArray(sums, 0);
                reduce(sums, k, a, aOff, 0, 1, b, bo, ldb, 1, c, cOff + j, 0, 1, accumulate);
            }
        });
    }

    /**
     * 8 rows of A x up to 3 rows of B (missing rows of B repeat the first), into
     * {@code sums[(r*6 + j)*16 ..]}: each vector of B loaded once for all 8 rows, so that a
     * few-rows product streams B once with all its work done while the stream runs.
     */
    private static void tile8x3(int k, float[] a, int ao, int lda, float[] b, int bo, int ldb, int cols, float[] sums) {
        int b0 = bo;
        int b1 = bo + (cols > 1 ? ldb : 0);
        int b2 = bo + (cols > 2 ? 2 * ldb : 0);
        FloatVector s00 = FloatVector.zero(S), s01 = s00, s02 = s00, s10 = s00, s11 = s00, s12 = s00;
        FloatVector s20 = s00, s21 = s00, s22 = s00, s30 = s00, s31 = s00, s32 = s00;
        FloatVector s40 = s00, s41 = s00, s42 = s00, s50 = s00, s51 = s00, s52 = s00;
        FloatVector s60 = s00, s61 = s00, s62 = s00, s70 = s00, s71 = s00, s72 = s00;
        for (int kk = 0; kk <= k - L; kk += L) {
            FloatVector y0 = FloatVector.fromArray(S, b, b0 + kk);
            FloatVector y1 = FloatVector.fromArray(S, b, b1 + kk);
            FloatVector y2 = FloatVector.fromArray(S, b, b2 + kk);
            FloatVector x = FloatVector.fromArray(S, a, ao + kk);
            s00 = x.fma(y0, s00);
            s01 = x.fma(y1, s01);
            s02 = x.fma(y2, s02);
            x = FloatVector.fromArray(S, a, ao + lda + kk);
            s10 = x.fma(y0, s10);
            s11 = x.fma(y1, s11);
            s12 = x.fma(y2, s12);
            x = FloatVector.fromArray(S, a, ao + 2 * lda + kk);
            s20 = x.fma(y0, s20);
            s21 = x.fma(y1, s21);
            s22 = x.fma(y2, s22);
            x = FloatVector.fromArray(S, a, ao + 3 * lda + kk);
            s30 = x.fma(y0, s30);
            s31 = x.fma(y1, s31);
            s32 = x.fma(y2, s32);
            x = FloatVector.fromArray(S, a, ao + 4 * lda + kk);
            s40 = x.fma(y0, s40);
            s41 = x.fma(y1, s41);
            s42 = x.fma(y2, s42);
            x = FloatVector.fromArray(S, a, ao + 5 * lda + kk);
            s50 = x.fma(y0, s50);
            s51 = x.fma(y1, s51);
            s52 = x.fma(y2, s52);
            x = FloatVector.fromArray(S, a, ao + 6 * lda + kk);
            s60 = x.fma(y0, s60);
            s61 = x.fma(y1, s61);
            s62 = x.fma(y2, s62);
            x = FloatVector.fromArray(S, a, ao + 7 * lda + kk);
            s70 = x.fma(y0, s70);
            s71 = x.fma(y1, s71);
            s72 = x.fma(y2, s72);
        }
        s00.intoArray(sums, 0);
        s01.intoArray(sums, L);
        s02.intoArray(sums, 2 * L);
        s10.intoArray(sums, 6 * L);
        s11.intoArray(sums, 7 * L);
        s12.intoArray(sums, 8 * L);
        s20.intoArray(sums, 12 * L);
        s21.intoArray(sums, 13 * L);
        s22.intoArray(sums, 14 * L);
        s30.intoArray(sums, 18 * L);
        s31.intoArray(sums, 19 * L);
        s32.intoArray(sums, 20 * L);
        s40.intoArray(sums, 24 * L);
        s41.intoArray(sums, 25 * L);
        s42.intoArray(sums, 26 * L);
        s50.intoArray(sums, 30 * L);
        s51.intoArray(sums, 31 * L);
        s52.intoArray(sums, 32 * L);
        s60.intoArray(sums, 36 * L);
        s61.intoArray(sums, 37 * L);
        s62.intoArray(sums, 38 * L);
        s70.intoArray(sums, 42 * L);
        s71.intoArray(sums, 43 * L);
        s72.intoArray(sums, 44 * L);
    }

    /**
     * Lane-wise partial dot products over the whole 16-lane part of K, for a tile of rows x cols
     * (at most 4 x 6; missing rows and columns repeat the first), into {@code sums[(r*6 + j)*16 ..]}.
     */
    private static void tile(int k, float[] a, int ao, int lda, int rows, float[] b, int bo, int ldb, int cols,
                             float[] sums) {
        int a0 = ao;
        int a1 = ao + (rows > 1 ? 1 * lda : 0);
        int a2 = ao + (rows > 2 ? 2 * lda : 0);
        int a3 = ao + (rows > 3 ? 3 * lda : 0);
        int b0 = bo;
        int b1 = bo + (cols > 1 ? 1 * ldb : 0);
        int b2 = bo + (cols > 2 ? 2 * ldb : 0);
        int b3 = bo + (cols > 3 ? 3 * ldb : 0);
        int b4 = bo + (cols > 4 ? 4 * ldb : 0);
        int b5 = bo + (cols > 5 ? 5 * ldb : 0);
        FloatVector s00 = FloatVector.zero(S);
        FloatVector s01 = FloatVector.zero(S);
        FloatVector s02 = FloatVector.zero(S);
        FloatVector s03 = FloatVector.zero(S);
        FloatVector s04 = FloatVector.zero(S);
        FloatVector s05 = FloatVector.zero(S);
        FloatVector s10 = FloatVector.zero(S);
        FloatVector s11 = FloatVector.zero(S);
        FloatVector s12 = FloatVector.zero(S);
        FloatVector s13 = FloatVector.zero(S);
        FloatVector s14 = FloatVector.zero(S);
        FloatVector s15 = FloatVector.zero(S);
        FloatVector s20 = FloatVector.zero(S);
        FloatVector s21 = FloatVector.zero(S);
        FloatVector s22 = FloatVector.zero(S);
        FloatVector s23 = FloatVector.zero(S);
        FloatVector s24 = FloatVector.zero(S);
        FloatVector s25 = FloatVector.zero(S);
        FloatVector s30 = FloatVector.zero(S);
        FloatVector s31 = FloatVector.zero(S);
        FloatVector s32 = FloatVector.zero(S);
        FloatVector s33 = FloatVector.zero(S);
        FloatVector s34 = FloatVector.zero(S);
        FloatVector s35 = FloatVector.zero(S);
        for (int kk = 0; kk <= k - L; kk += L) {
            FloatVector x0 = FloatVector.fromArray(S, a, a0 + kk);
            FloatVector x1 = FloatVector.fromArray(S, a, a1 + kk);
            FloatVector x2 = FloatVector.fromArray(S, a, a2 + kk);
            FloatVector x3 = FloatVector.fromArray(S, a, a3 + kk);
            FloatVector y0 = FloatVector.fromArray(S, b, b0 + kk);
            s00 = x0.fma(y0, s00);
            s10 = x1.fma(y0, s10);
            s20 = x2.fma(y0, s20);
            s30 = x3.fma(y0, s30);
            FloatVector y1 = FloatVector.fromArray(S, b, b1 + kk);
            s01 = x0.fma(y1, s01);
            s11 = x1.fma(y1, s11);
            s21 = x2.fma(y1, s21);
            s31 = x3.fma(y1, s31);
            FloatVector y2 = FloatVector.fromArray(S, b, b2 + kk);
            s02 = x0.fma(y2, s02);
            s12 = x1.fma(y2, s12);
            s22 = x2.fma(y2, s22);
            s32 = x3.fma(y2, s32);
            FloatVector y3 = FloatVector.fromArray(S, b, b3 + kk);
            s03 = x0.fma(y3, s03);
            s13 = x1.fma(y3, s13);
            s23 = x2.fma(y3, s23);
            s33 = x3.fma(y3, s33);
            FloatVector y4 = FloatVector.fromArray(S, b, b4 + kk);
            s04 = x0.fma(y4, s04);
            s14 = x1.fma(y4, s14);
            s24 = x2.fma(y4, s24);
            s34 = x3.fma(y4, s34);
            FloatVector y5 = FloatVector.fromArray(S, b, b5 + kk);
            s05 = x0.fma(y5, s05);
            s15 = x1.fma(y5, s15);
            s25 = x2.fma(y5, s25);
            s35 = x3.fma(y5, s35);
        }
        s00.intoArray(sums, 0 * L);
        s01.intoArray(sums, 1 * L);
        s02.intoArray(sums, 2 * L);
        s03.intoArray(sums, 3 * L);
        s04.intoArray(sums, 4 * L);
        s05.intoArray(sums, 5 * L);
        s10.intoArray(sums, 6 * L);
        s11.intoArray(sums, 7 * L);
        s12.intoArray(sums, 8 * L);
        s13.intoArray(sums, 9 * L);
        s14.intoArray(sums, 10 * L);
        s15.intoArray(sums, 11 * L);
        s20.intoArray(sums, 12 * L);
        s21.intoArray(sums, 13 * L);
        s22.intoArray(sums, 14 * L);
        s23.intoArray(sums, 15 * L);
        s24.intoArray(sums, 16 * L);
        s25.intoArray(sums, 17 * L);
        s30.intoArray(sums, 18 * L);
        s31.intoArray(sums, 19 * L);
        s32.intoArray(sums, 20 * L);
        s33.intoArray(sums, 21 * L);
        s34.intoArray(sums, 22 * L);
        s35.intoArray(sums, 23 * L);
    }

    /**
     * {@code C[r, j] (+)= butterfly(sums of (r, j)) + tail of the dot product}, for r < rows,
     * j < cols: B's row j at {@code bo + j ldb}, C's column j at {@code co + j cs}.
     */
    private static void reduce(float[] sums, int k, float[] a, int ao, int lda, int rows, float[] b, int bo, int ldb,
                               int cols, float[] c, int co, int ldc, int cs, boolean accumulate) {
        int tail = k - k % L;
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) {
                FloatVector v = FloatVector.fromArray(S, sums, (r * NR + j) * L);
                v = v.add(v.rearrange(SWAP8));
                v = v.add(v.rearrange(SWAP4));
                v = v.add(v.rearrange(SWAP2));
                v = v.add(v.rearrange(SWAP1));
                float s = v.lane(0);
                int ar = ao + r * lda;
                int br = bo + j * ldb;
                for (int kk = tail; kk < k; kk++) s += a[ar + kk] * b[br + kk];
                int o = co + r * ldc + j * cs;
                c[o] = accumulate ? c[o] + s : s;
            }
        }
    }
}
