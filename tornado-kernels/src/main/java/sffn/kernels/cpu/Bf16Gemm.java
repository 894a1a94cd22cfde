package sffn.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import sffn.kernels.Bf16;

/**
 * {@code C[M,N] (+)= A[M,K] . W[N,K]^T} with W in bfloat16 (bit patterns in a short[]), read in
 * place: each vector of W is widened in registers (short lanes sign-extended to int, shifted left
 * by 16, reinterpreted as float) right before its fused multiply-adds. No float copy of W exists.
 *
 * <p>Up to {@link #SMALL_M} rows (decoding) tiles of 8 rows of A x 3 rows of W (24 lane-wise
 * partial dot products in registers, each widened vector of W used 8 times), then for the rows
 * left tiles of up to 4 x 4; each partial product is then summed by {@link Vec#sumLanes} and
 * the K mod L tail added in order, so a result depends on K alone, not on M, the tile or the
 * thread count. Above, panels of {@link #PANEL} rows of W are widened into a thread's scratch
 * and multiplied by {@link Sgemm#gemmSerial} (prefill), a panel size fixed by the shape.
 */
public final class Bf16Gemm {
    /** Up to this many rows of A, the tile path; above, widened panels and the packed GEMM. */
    public static final int SMALL_M = 64;
    /** Rows of W widened at a time on the large-M path. */
    static final int PANEL = 64;
    private static final VectorSpecies<Float> S = Vec.S;
    private static final int L = Vec.L;
    /** Each thread's partial-sum tile, allocated once (a fresh one per chunk can share cache lines with the other thread's output: see DotGemm). */
    private static final ThreadLocal<float[]> SUMS = ThreadLocal.withInitial(() -> new float[32 * L + 16]);
    /** W rows per parallel chunk (a multiple of the tile's 4). */
    private static final int CHUNK = 16;

    private Bf16Gemm() {
    }

    /** The product on all threads, split over the rows of W. */
    public static void gemm(int m, int n, int k, float[] a, int aOff, int lda, short[] w, int wOff,
                            float[] c, int cOff, int ldc, boolean accumulate) {
        if (m == 1) {
            matvec(n, k, a, aOff, w, wOff, c, cOff, accumulate);
            return;
        }
        if (m <= SMALL_M) {
            Workers.pool().parallelRuns(n, (long) m * n * k,
                    (from, to) -> tiles(m, from, to, k, a, aOff, lda, w, wOff, c, cOff, ldc, accumulate));
            return;
        }
        int chunks = (n + CHUNK - 1) / CHUNK;
        Workers.pool().parallelFor(chunks, Math.max(1, chunks / (8 * Workers.pool().threads())), (long) m * n * k, (from, to) -> {
            float[] scratch = SCRATCH.get(Math.min(PANEL, CHUNK) * k);
            for (int ch = from; ch < to; ch++) {
                int j0 = ch * CHUNK;
                columns(m, j0, Math.min(n, j0 + CHUNK), k, a, aOff, lda, w, wOff, c, cOff, ldc, accumulate, scratch);
            }
        });
    }

    /**
     * One row of A (decoding at batch 1): each thread takes one contiguous run of W's rows and
     * walks its four quarters side by side ({@link #tile1} on rows a quarter apart: four streams,
     * four independent chains of fused multiply-adds, each vector of A loaded once for all four),
     * the rows left over one at a time. A run read a row at a time kept one chain of
     * multiply-adds, each waiting for the last: on this project's Intel VM Transformer-s decoded
     * at 1.49-1.71x float32's tokens/s (63-69% of the bf16 bytes' limit), against 1.90-2.07x
     * (82-87%) with the quarters (float32 then still a row at a time). Same bits as the tiles.
     */
    private static void matvec(int n, int k, float[] a, int aOff, short[] w, int wOff, float[] c, int cOff,
                               boolean accumulate) {
        Workers.pool().parallelRuns(n, (long) n * k, (from, to) -> {
            float[] sums = SUMS.get();
            int h = (to - from) / 4;
            for (int j = from; j < from + h; j++) {
                tile1(k, a, aOff, w, wOff + j * k, h * k, 4, sums);
                reduce(sums, 1, 4, k, a, aOff, k, w, wOff + j * k, h * k, c, cOff + j, 1, h, accumulate);
            }
            for (int j = from + 4 * h; j < to; j++) {
                row(k, a, aOff, w, wOff + j * k, sums);
                reduce(sums, 1, 1, k, a, aOff, k, w, wOff + j * k, k, c, cOff + j, 1, 1, accumulate);
            }
        });
    }

    /**
     * Block-diagonal product: block b maps {@code x[r, b*p ..+p)} to {@code y[r, b*q ..+q)} with
     * {@code w[b]} [q, p]; on all threads, split over blocks and their rows.
     */
    public static void blockDiag(float[] x, short[] w, float[] y, int rows, int nb, int q, int p, boolean accumulate) {
        int per = (q + CHUNK - 1) / CHUNK;
        int chunks = nb * per;
        Workers.pool().parallelFor(chunks, Math.max(1, chunks / (8 * Workers.pool().threads())), (long) rows * nb * q * p, (from, to) -> {
            float[] scratch = rows > SMALL_M ? SCRATCH.get(Math.min(PANEL, CHUNK) * p) : null;
            for (int ch = from; ch < to; ch++) {
                int b = ch / per;
                int j0 = (ch % per) * CHUNK;
                columns(rows, j0, Math.min(q, j0 + CHUNK), p, x, b * p, nb * p, w, b * q * p, y, b * q, nb * q,
                        accumulate, scratch);
            }
        });
    }

    /** The calling thread's buffer for widened panels of W (at most one chunk of rows). */
    private static final Scratch SCRATCH = new Scratch();

    /** Columns {@code j0 .. j1} of C, every row, on the calling thread. */
    static void columns(int m, int j0, int j1, int k, float[] a, int aOff, int lda, short[] w, int wOff,
                        float[] c, int cOff, int ldc, boolean accumulate, float[] scratch) {
        if (m > SMALL_M) {
            for (int p0 = j0; p0 < j1; p0 += PANEL) {
                int np = Math.min(PANEL, j1 - p0);
                for (int i = 0; i < np * k; i++) scratch[i] = Bf16.toFloat(w[wOff + p0 * k + i]);
                Sgemm.gemmSerial(false, true, m, np, k, a, aOff, lda, scratch, 0, k, c, cOff + p0, ldc, accumulate);
            }
            return;
        }
        tiles(m, j0, j1, k, a, aOff, lda, w, wOff, c, cOff, ldc, accumulate);
    }

    /**
     * Columns {@code j0 .. j1} of C, up to {@link #SMALL_M} rows, on the calling thread: tiles of
     * 8 rows of A x 3 rows of W, then of up to 4 x 4 for the rows left. A tile's rows of W lie a
     * third (a quarter) of the range apart, so that each is a stream of its own through memory;
     * the rows left over at the end go side by side. A result's operations do not depend on
     * which rows share its tile. Neighbouring rows, in pieces handed out in turn, decoded
     * Transformer-s at batch 8 at 304-306 tokens/s on this project's Intel VM; 475-487 apart.
     */
    private static void tiles(int m, int j0, int j1, int k, float[] a, int aOff, int lda, short[] w, int wOff,
                              float[] c, int cOff, int ldc, boolean accumulate) {
        float[] sums = SUMS.get();
        int eights = m - m % 8;
        if (eights > 0) {
            int h = (j1 - j0) / 3;
            for (int j = j0; j < j0 + h; j++) {
                eights(eights, k, a, aOff, lda, w, wOff + j * k, h * k, 3, c, cOff + j, ldc, h, accumulate, sums);
            }
            for (int j = j0 + 3 * h; j < j1; j += 3) {
                eights(eights, k, a, aOff, lda, w, wOff + j * k, k, Math.min(3, j1 - j), c, cOff + j, ldc, 1, accumulate,
                        sums);
            }
        }
        if (eights < m) {
            int h = (j1 - j0) / 4;
            for (int j = j0; j < j0 + h; j++) {
                fours(eights, m, k, a, aOff, lda, w, wOff + j * k, h * k, 4, c, cOff + j, ldc, h, accumulate, sums);
            }
            for (int j = j0 + 4 * h; j < j1; j += 4) {
                fours(eights, m, k, a, aOff, lda, w, wOff + j * k, k, Math.min(4, j1 - j), c, cOff + j, ldc, 1, accumulate,
                        sums);
            }
        }
    }

    /** Rows {@code 0 .. m} of A, 8 at a time, against {@code cols} rows of W {@code ldw} apart, into C's columns {@code cs} apart. */
    private static void eights(int m, int k, float[] a, int aOff, int lda, short[] w, int wo, int ldw, int cols,
                               float[] c, int co, int ldc, int cs, boolean accumulate, float[] sums) {
        for (int i = 0; i < m; i += 8) {
            int ao = aOff + i * lda;
            tile8x3(k, a, ao, lda, w, wo, ldw, cols, sums);
            reduce(sums, 8, cols, k, a, ao, lda, w, wo, ldw, c, co + i * ldc, ldc, cs, accumulate);
        }
    }

    /** Rows {@code i0 .. m} of A, up to 4 at a time, against {@code cols} rows of W {@code ldw} apart, into C's columns {@code cs} apart. */
    private static void fours(int i0, int m, int k, float[] a, int aOff, int lda, short[] w, int wo, int ldw, int cols,
                              float[] c, int co, int ldc, int cs, boolean accumulate, float[] sums) {
        for (int i = i0; i < m; i += 4) {
            int rows = Math.min(4, m - i);
            int ao = aOff + i * lda;
            if (rows == 1) tile1(k, a, ao, w, wo, ldw, cols, sums);
            else tile4(k, a, ao, lda, rows, w, wo, ldw, cols, sums);
            reduce(sums, rows, cols, k, a, ao, lda, w, wo, ldw, c, co + i * ldc, ldc, cs, accumulate);
        }
    }

    private static FloatVector widen(short[] w, int off) {
        return Vec.bf16(w, off);
    }

    /** One row of A against one row of W into sums[0 ..]: the operations {@link #tile1} does per row of W. */
    private static void row(int k, float[] a, int ao, short[] w, int wo, float[] sums) {
        FloatVector s0 = FloatVector.zero(S);
        for (int kk = 0; kk <= k - L; kk += L) s0 = FloatVector.fromArray(S, a, ao + kk).fma(widen(w, wo + kk), s0);
        s0.intoArray(sums, 0);
    }

    /** One row of A against up to 4 rows of W (missing rows repeat the first): sums[j*L ..]. */
    private static void tile1(int k, float[] a, int ao, short[] w, int wo, int ldw, int cols, float[] sums) {
        int w0 = wo;
        int w1 = wo + (cols > 1 ? ldw : 0);
        int w2 = wo + (cols > 2 ? 2 * ldw : 0);
        int w3 = wo + (cols > 3 ? 3 * ldw : 0);
        FloatVector s0 = FloatVector.zero(S);
        FloatVector s1 = FloatVector.zero(S);
        FloatVector s2 = FloatVector.zero(S);
        FloatVector s3 = FloatVector.zero(S);
        for (int kk = 0; kk <= k - L; kk += L) {
            FloatVector x = FloatVector.fromArray(S, a, ao + kk);
            s0 = x.fma(widen(w, w0 + kk), s0);
            s1 = x.fma(widen(w, w1 + kk), s1);
            s2 = x.fma(widen(w, w2 + kk), s2);
            s3 = x.fma(widen(w, w3 + kk), s3);
        }
        s0.intoArray(sums, 0);
        s1.intoArray(sums, L);
        s2.intoArray(sums, 2 * L);
        s3.intoArray(sums, 3 * L);
    }

    /** Up to 4 rows of A against up to 4 rows of W (missing ones repeat the first): sums[(r*4 + j)*L ..]. */
    private static void tile4(int k, float[] a, int ao, int lda, int rows, short[] w, int wo, int ldw, int cols,
                              float[] sums) {
        int a0 = ao;
        int a1 = ao + (rows > 1 ? lda : 0);
        int a2 = ao + (rows > 2 ? 2 * lda : 0);
        int a3 = ao + (rows > 3 ? 3 * lda : 0);
        int w0 = wo;
        int w1 = wo + (cols > 1 ? ldw : 0);
        int w2 = wo + (cols > 2 ? 2 * ldw : 0);
        int w3 = wo + (cols > 3 ? 3 * ldw : 0);
        FloatVector s00 = FloatVector.zero(S), s01 = FloatVector.zero(S), s02 = FloatVector.zero(S), s03 = FloatVector.zero(S);
        FloatVector s10 = FloatVector.zero(S), s11 = FloatVector.zero(S), s12 = FloatVector.zero(S), s13 = FloatVector.zero(S);
        FloatVector s20 = FloatVector.zero(S), s21 = FloatVector.zero(S), s22 = FloatVector.zero(S), s23 = FloatVector.zero(S);
        FloatVector s30 = FloatVector.zero(S), s31 = FloatVector.zero(S), s32 = FloatVector.zero(S), s33 = FloatVector.zero(S);
        for (int kk = 0; kk <= k - L; kk += L) {
            FloatVector x0 = FloatVector.fromArray(S, a, a0 + kk);
            FloatVector x1 = FloatVector.fromArray(S, a, a1 + kk);
            FloatVector x2 = FloatVector.fromArray(S, a, a2 + kk);
            FloatVector x3 = FloatVector.fromArray(S, a, a3 + kk);
            FloatVector y = widen(w, w0 + kk);
            s00 = x0.fma(y, s00);
            s10 = x1.fma(y, s10);
            s20 = x2.fma(y, s20);
            s30 = x3.fma(y, s30);
            y = widen(w, w1 + kk);
            s01 = x0.fma(y, s01);
            s11 = x1.fma(y, s11);
            s21 = x2.fma(y, s21);
            s31 = x3.fma(y, s31);
            y = widen(w, w2 + kk);
            s02 = x0.fma(y, s02);
            s12 = x1.fma(y, s12);
            s22 = x2.fma(y, s22);
            s32 = x3.fma(y, s32);
            y = widen(w, w3 + kk);
            s03 = x0.fma(y, s03);
            s13 = x1.fma(y, s13);
            s23 = x2.fma(y, s23);
            s33 = x3.fma(y, s33);
        }
        s00.intoArray(sums, 0);
        s01.intoArray(sums, L);
        s02.intoArray(sums, 2 * L);
        s03.intoArray(sums, 3 * L);
        s10.intoArray(sums, 4 * L);
        s11.intoArray(sums, 5 * L);
        s12.intoArray(sums, 6 * L);
        s13.intoArray(sums, 7 * L);
        s20.intoArray(sums, 8 * L);
        s21.intoArray(sums, 9 * L);
        s22.intoArray(sums, 10 * L);
        s23.intoArray(sums, 11 * L);
        s30.intoArray(sums, 12 * L);
        s31.intoArray(sums, 13 * L);
        s32.intoArray(sums, 14 * L);
        s33.intoArray(sums, 15 * L);
    }

    /**
     * 8 rows of A against up to 3 rows of W (missing ones repeat the first): sums[(r*4 + j)*L ..];
     * per pair the same operations as {@link #tile4}. At 8 x 3072 x 768 streaming W from memory
     * it ran 120-128 GFLOP/s against 80-99 for two passes of the 4 x 4 tile (this project's
     * 2-core VM, medians of JVM runs); float32's own tile did not gain from the same shape (80-84
     * against 82-95: it streams twice the bytes).
     */
    private static void tile8x3(int k, float[] a, int ao, int lda, short[] w, int wo, int ldw, int cols, float[] sums) {
        int w0 = wo;
        int w1 = wo + (cols > 1 ? ldw : 0);
        int w2 = wo + (cols > 2 ? 2 * ldw : 0);
        FloatVector s00 = FloatVector.zero(S), s01 = s00, s02 = s00, s10 = s00, s11 = s00, s12 = s00;
        FloatVector s20 = s00, s21 = s00, s22 = s00, s30 = s00, s31 = s00, s32 = s00;
        FloatVector s40 = s00, s41 = s00, s42 = s00, s50 = s00, s51 = s00, s52 = s00;
        FloatVector s60 = s00, s61 = s00, s62 = s00, s70 = s00, s71 = s00, s72 = s00;
        for (int kk = 0; kk <= k - L; kk += L) {
            FloatVector y0 = widen(w, w0 + kk);
            FloatVector y1 = widen(w, w1 + kk);
            FloatVector y2 = widen(w, w2 + kk);
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
        s10.intoArray(sums, 4 * L);
        s11.intoArray(sums, 5 * L);
        s12.intoArray(sums, 6 * L);
        s20.intoArray(sums, 8 * L);
        s21.intoArray(sums, 9 * L);
        s22.intoArray(sums, 10 * L);
        s30.intoArray(sums, 12 * L);
        s31.intoArray(sums, 13 * L);
        s32.intoArray(sums, 14 * L);
        s40.intoArray(sums, 16 * L);
        s41.intoArray(sums, 17 * L);
        s42.intoArray(sums, 18 * L);
        s50.intoArray(sums, 20 * L);
        s51.intoArray(sums, 21 * L);
        s52.intoArray(sums, 22 * L);
        s60.intoArray(sums, 24 * L);
        s61.intoArray(sums, 25 * L);
        s62.intoArray(sums, 26 * L);
        s70.intoArray(sums, 28 * L);
        s71.intoArray(sums, 29 * L);
        s72.intoArray(sums, 30 * L);
    }

    /**
     * {@code C[r, j] (+)= sumLanes(sums of (r, j)) + the K mod L tail}, for r < rows, j < cols:
     * W's row j at {@code wo + j ldw}, C's column j at {@code co + j cs}.
     */
    private static void reduce(float[] sums, int rows, int cols, int k, float[] a, int ao, int lda, short[] w, int wo,
                               int ldw, float[] c, int co, int ldc, int cs, boolean accumulate) {
        int tail = k - k % L;
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) {
                float s = Vec.sumLanes(FloatVector.fromArray(S, sums, (r * 4 + j) * L));
                int ar = ao + r * lda;
                int wr = wo + j * ldw;
                for (int kk = tail; kk < k; kk++) s += a[ar + kk] * Bf16.toFloat(w[wr + kk]);
                int o = co + r * ldc + j * cs;
                c[o] = accumulate ? c[o] + s : s;
            }
        }
    }
}
