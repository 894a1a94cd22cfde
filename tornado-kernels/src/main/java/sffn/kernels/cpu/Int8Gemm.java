package sffn.kernels.cpu;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;
import sffn.kernels.Int8Groups;

/**
 * {@code C[M,N] (+)= A[M,K] . W[N,K]^T} with W in int8 and a float32 scale per group of
 * {@link Int8Groups#GROUP} weights along K ({@link Int8Groups}), read in place: each vector of W
 * is converted to float in registers right before its fused multiply-adds, per group
 * {@code p = sum_k a_k q_k} lane-wise, then {@code acc += p * scale}. No float copy of W exists.
 * The activations stay float32: the Vector API has no int8 dot-product instruction to make
 * int8 x int8 products pay, and decoding is bound by the weight bytes, which are already int8.
 *
 * <p>Below {@link #PANEL_M} rows (decoding at batch sizes up to 15): one row of A against four
 * rows of W far apart ({@link #matvec}) or one, or tiles of up to 4 x 2 (16 partial and
 * accumulated vectors in registers); all do the same operations per pair, so a result depends
 * on K alone: per group, a product
 * then fused multiply-adds, scaled onto the accumulator; lanes summed by {@link Vec#sumLanes},
 * then the last, partial group in order. From
 * {@link #PANEL_M} rows (prefill), where converting int8 once per tile of 4 rows would cost more
 * than converting once, panels of 16 rows of W are dequantised into a thread's scratch (no copy
 * of the whole weight) and multiplied by {@link Sgemm#gemmSerial}, whose order depends on the
 * shape alone. (In cache on AVX-512, per weight of W: tiles 0.11 ns at 4 rows and 0.23 ns at 8,
 * the panel path 0.17 and 0.22 ns; the panel wins from about 12 rows.)
 */
public final class Int8Gemm {
    /** From this many rows of A, dequantised panels and the float32 GEMM. */
    public static final int PANEL_M = 16;
    static final int PANEL = 64;
    private static final int G = Int8Groups.GROUP;
    private static final VectorSpecies<Float> S = Vec.S;
    private static final int L = Vec.L;
    /** Each thread's partial-sum tile, allocated once (a fresh one per chunk can share cache lines with the other thread's output: see DotGemm). */
    private static final ThreadLocal<float[]> SUMS = ThreadLocal.withInitial(() -> new float[16 * L + 16]);
    /** Byte lanes to match the float lanes; the vector loops need at least 8 (a 64-bit byte vector). */
    private static final boolean VECTOR = L >= 8 && G % L == 0;
    private static final VectorSpecies<Byte> B = VECTOR ? VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8)) : null;
    private static final int CHUNK = 16;
    /** Vectors per group. */
    private static final int PER = VECTOR ? G / L : 1;

    private Int8Gemm() {
    }

    /** The product on all threads, split over the rows of W; {@code scale} [N, groups(K)] from {@code sOff}. */
    public static void gemm(int m, int n, int k, float[] a, int aOff, int lda, byte[] q, int qOff, float[] scale, int sOff,
                            float[] c, int cOff, int ldc, boolean accumulate) {
        if (m == 1 && VECTOR) {
            matvec(n, k, a, aOff, q, qOff, scale, sOff, c, cOff, accumulate);
            return;
        }
        if (m < PANEL_M) {
            Workers.pool().parallelRuns(n, (long) m * n * k,
                    (from, to) -> tiles(m, from, to, k, a, aOff, lda, q, qOff, scale, sOff, c, cOff, ldc, accumulate));
            return;
        }
        int chunks = (n + CHUNK - 1) / CHUNK;
        Workers.pool().parallelFor(chunks, Math.max(1, chunks / (8 * Workers.pool().threads())), (long) m * n * k, (from, to) -> {
            float[] scratch = SCRATCH.get(Math.min(PANEL, CHUNK) * k);
            for (int ch = from; ch < to; ch++) {
                int j0 = ch * CHUNK;
                columns(m, j0, Math.min(n, j0 + CHUNK), k, a, aOff, lda, q, qOff, scale, sOff, c, cOff, ldc, accumulate, scratch);
            }
        });
    }

    /**
     * One row of A (decoding at batch 1): each thread takes one contiguous run of W's rows and
     * walks its four quarters side by side ({@link #rowQuad}: four streams far apart in memory,
     * each vector of A loaded once for all four), the rows left over one at a time. Pieces handed
     * out one after another restart the streams at every piece and interleave the two threads'
     * reads; rows next to each other read as a pair stream badly (a stand-alone loop over rows j
     * and j+1: 7 against 17 GB/s on one core of the AMD VM). Converting int8 costs more
     * instructions per byte than bf16 or float32, so the loads of A shared by the rows matter.
     * Two rows (the halves) decoded Transformer-s at 2.83-2.94x float32's tokens/s on this
     * project's Intel VM (67-70% of the int8 bytes' limit), four at 3.31-3.46x (79-83%), float32
     * then still a row at a time. Same bits as {@link #columns}.
     */
    private static void matvec(int n, int k, float[] a, int aOff, byte[] q, int qOff, float[] scale, int sOff,
                               float[] c, int cOff, boolean accumulate) {
        int g = Int8Groups.groups(k);
        Workers.pool().parallelRuns(n, (long) n * k, (from, to) -> {
            float[] sums = SUMS.get();
            int h = (to - from) / 4;
            for (int j = from; j < from + h; j++) {
                rowQuad(k, a, aOff, q, qOff + j * k, h * k, scale, sOff + j * g, h * g, sums);
                for (int u = 0; u < 4; u++)
                    store(sums, u * L, k, a, aOff, q, qOff + (j + u * h) * k, scale, sOff + (j + u * h) * g, c, cOff + j + u * h, accumulate);
            }
            for (int j = from + 4 * h; j < to; j++) {
                row(k, a, aOff, q, qOff + j * k, scale, sOff + j * g, sums, 0);
                store(sums, 0, k, a, aOff, q, qOff + j * k, scale, sOff + j * g, c, cOff + j, accumulate);
            }
        });
    }

    /**
     * Rows {@code q0}, {@code q0 + dq}, {@code q0 + 2dq}, {@code q0 + 3dq} of W (their scales from
     * {@code s0} at steps of {@code ds}) against one row of A, whole groups only, into sums[0 ..],
     * sums[L ..], ...: per row the operations of {@link #row}.
     */
    private static void rowQuad(int k, float[] a, int ao, byte[] q, int q0, int dq, float[] scale, int s0, int ds,
                                float[] sums) {
        FloatVector acc0 = FloatVector.zero(S);
        FloatVector acc1 = FloatVector.zero(S);
        FloatVector acc2 = FloatVector.zero(S);
        FloatVector acc3 = FloatVector.zero(S);
        for (int g0 = 0, gi = 0; g0 <= k - G; g0 += G, gi++) {
            FloatVector x = FloatVector.fromArray(S, a, ao + g0);
            FloatVector p0 = x.mul(widen(q, q0 + g0));
            FloatVector p1 = x.mul(widen(q, q0 + dq + g0));
            FloatVector p2 = x.mul(widen(q, q0 + 2 * dq + g0));
            FloatVector p3 = x.mul(widen(q, q0 + 3 * dq + g0));
            for (int u = 1; u < PER; u++) {
                int v = g0 + u * L;
                x = FloatVector.fromArray(S, a, ao + v);
                p0 = x.fma(widen(q, q0 + v), p0);
                p1 = x.fma(widen(q, q0 + dq + v), p1);
                p2 = x.fma(widen(q, q0 + 2 * dq + v), p2);
                p3 = x.fma(widen(q, q0 + 3 * dq + v), p3);
            }
            acc0 = p0.fma(FloatVector.broadcast(S, scale[s0 + gi]), acc0);
            acc1 = p1.fma(FloatVector.broadcast(S, scale[s0 + ds + gi]), acc1);
            acc2 = p2.fma(FloatVector.broadcast(S, scale[s0 + 2 * ds + gi]), acc2);
            acc3 = p3.fma(FloatVector.broadcast(S, scale[s0 + 3 * ds + gi]), acc3);
        }
        acc0.intoArray(sums, 0);
        acc1.intoArray(sums, L);
        acc2.intoArray(sums, 2 * L);
        acc3.intoArray(sums, 3 * L);
    }

    /** {@code c[o] (+)= sumLanes(sums[so ..]) + the last, partial group} of one row of W. */
    private static void store(float[] sums, int so, int k, float[] a, int aOff, byte[] q, int qr, float[] scale, int sr,
                              float[] c, int o, boolean accumulate) {
        float r = Vec.sumLanes(FloatVector.fromArray(S, sums, so)) + partialGroups(k - k % G, k, a, aOff, q, qr, scale, sr);
        c[o] = accumulate ? c[o] + r : r;
    }

    /** The groups from {@code from} (a multiple of the group size) of one pair of rows, in order. */
    private static float partialGroups(int from, int k, float[] a, int ar, byte[] q, int qr, float[] scale, int sr) {
        float s = 0f;
        for (int g0 = from; g0 < k; g0 += G) {
            float part = 0f;
            for (int kk = g0; kk < Math.min(k, g0 + G); kk++) part += a[ar + kk] * q[qr + kk];
            s += part * scale[sr + g0 / G];
        }
        return s;
    }

    /** Block-diagonal product (see {@link Bf16Gemm#blockDiag}); {@code scale} [nb, q, groups(p)]. */
    public static void blockDiag(float[] x, byte[] w, float[] scale, float[] y, int rows, int nb, int q, int p,
                                 boolean accumulate) {
        int per = (q + CHUNK - 1) / CHUNK;
        int chunks = nb * per;
        int g = Int8Groups.groups(p);
        Workers.pool().parallelFor(chunks, Math.max(1, chunks / (8 * Workers.pool().threads())), (long) rows * nb * q * p, (from, to) -> {
            float[] scratch = rows >= PANEL_M ? SCRATCH.get(Math.min(PANEL, CHUNK) * p) : null;
            for (int ch = from; ch < to; ch++) {
                int b = ch / per;
                int j0 = (ch % per) * CHUNK;
                columns(rows, j0, Math.min(q, j0 + CHUNK), p, x, b * p, nb * p, w, b * q * p, scale, b * q * g,
                        y, b * q, nb * q, accumulate, scratch);
            }
        });
    }

    /** The calling thread's buffer for widened panels of W (at most one chunk of rows). */
    private static final Scratch SCRATCH = new Scratch();

    /** Columns {@code j0 .. j1} of C, every row, on the calling thread. */
    static void columns(int m, int j0, int j1, int k, float[] a, int aOff, int lda, byte[] q, int qOff, float[] scale,
                        int sOff, float[] c, int cOff, int ldc, boolean accumulate, float[] scratch) {
        int g = Int8Groups.groups(k);
        if (m >= PANEL_M) {
            for (int p0 = j0; p0 < j1; p0 += PANEL) {
                int np = Math.min(PANEL, j1 - p0);
                for (int r = 0; r < np; r++) dequantiseRow(q, qOff + (p0 + r) * k, scale, sOff + (p0 + r) * g, k, scratch, r * k);
                Sgemm.gemmSerial(false, true, m, np, k, a, aOff, lda, scratch, 0, k, c, cOff + p0, ldc, accumulate);
            }
            return;
        }
        tiles(m, j0, j1, k, a, aOff, lda, q, qOff, scale, sOff, c, cOff, ldc, accumulate);
    }

    /**
     * Columns {@code j0 .. j1} of C, fewer than {@link #PANEL_M} rows, on the calling thread:
     * tiles of up to 4 rows of A x 4 rows of W. A tile's rows of W lie a quarter of the range
     * apart, so that each is a stream of its own through memory; the rows left over at the end
     * go side by side. A result's operations do not depend on which rows share its tile.
     * Neighbouring rows, in pieces handed out in turn, decoded Transformer-s at batch 8 at
     * 317-331 tokens/s on this project's Intel VM; 393 apart.
     */
    private static void tiles(int m, int j0, int j1, int k, float[] a, int aOff, int lda, byte[] q, int qOff,
                              float[] scale, int sOff, float[] c, int cOff, int ldc, boolean accumulate) {
        int g = Int8Groups.groups(k);
        float[] sums = SUMS.get();
        int h = (j1 - j0) / 4;
        for (int j = j0; j < j0 + h; j++) {
            fours(m, k, a, aOff, lda, q, qOff + j * k, h * k, scale, sOff + j * g, h * g, 4, c, cOff + j, ldc, h, accumulate, sums);
        }
        for (int j = j0 + 4 * h; j < j1; j += 4) {
            fours(m, k, a, aOff, lda, q, qOff + j * k, k, scale, sOff + j * g, g, Math.min(4, j1 - j), c, cOff + j, ldc, 1,
                    accumulate, sums);
        }
    }

    /**
     * Every row of A, up to 4 at a time, against {@code cols} rows of W {@code ldq} apart (their
     * scales {@code lds} apart), into C's columns {@code cs} apart.
     */
    private static void fours(int m, int k, float[] a, int aOff, int lda, byte[] q, int qo, int ldq, float[] scale,
                              int so, int lds, int cols, float[] c, int co, int ldc, int cs, boolean accumulate,
                              float[] sums) {
        for (int i = 0; i < m; i += 4) {
            int rows = Math.min(4, m - i);
            int ao = aOff + i * lda;
            if (VECTOR) {
                if (rows == 1) {
                    for (int jj = 0; jj < cols; jj++) row(k, a, ao, q, qo + jj * ldq, scale, so + jj * lds, sums, jj * L);
                } else {
                    tile4x2(k, a, ao, lda, rows, q, qo, ldq, scale, so, lds, Math.min(2, cols), sums, 0);
                    if (cols > 2) tile4x2(k, a, ao, lda, rows, q, qo + 2 * ldq, ldq, scale, so + 2 * lds, lds, cols - 2, sums, 2);
                }
            } else {
                java.util.Arrays.fill(sums, 0f);
            }
            reduce(sums, rows, cols, k, a, ao, lda, q, qo, ldq, scale, so, lds, c, co + i * ldc, ldc, cs, accumulate);
        }
    }

    /** {@code out[oo + i] = q[qo + i] * scale[so + i / G]} for i < k: the products {@link Int8Groups#dequantise} gives. */
    private static void dequantiseRow(byte[] q, int qo, float[] scale, int so, int k, float[] out, int oo) {
        int whole = VECTOR ? k - k % G : 0;
        for (int g0 = 0, gi = 0; g0 < whole; g0 += G, gi++) {
            FloatVector s = FloatVector.broadcast(S, scale[so + gi]);
            for (int v = g0; v < g0 + G; v += L) widen(q, qo + v).mul(s).intoArray(out, oo + v);
        }
        for (int i = whole; i < k; i++) out[oo + i] = q[qo + i] * scale[so + i / G];
    }

    private static FloatVector widen(byte[] q, int off) {
        return (FloatVector) ByteVector.fromArray(B, q, off).convertShape(VectorOperators.B2F, S, 0);
    }

    /**
     * One row of A against one row of W, whole groups only, into sums[o ..]: the same operations
     * in the same order as {@link #tile4x2} does for each of its pairs. For a block-diagonal
     * product's single row, and the odd row of a matvec's run ({@link #matvec} reads rows in
     * pairs): streaming from memory, one row's bytes in sequence kept more of them in flight
     * than the 4 interleaved rows of a tile (about 1.6x the weights per ns on one core).
     */
    private static void row(int k, float[] a, int ao, byte[] q, int qo, float[] scale, int so, float[] sums, int o) {
        FloatVector s = FloatVector.zero(S);
        for (int g0 = 0, gi = 0; g0 <= k - 2 * G; g0 += 2 * G, gi += 2) {
            FloatVector p = FloatVector.fromArray(S, a, ao + g0).mul(widen(q, qo + g0));
            FloatVector r = FloatVector.fromArray(S, a, ao + g0 + G).mul(widen(q, qo + g0 + G));
            for (int u = 1; u < PER; u++) {
                int v = g0 + u * L;
                p = FloatVector.fromArray(S, a, ao + v).fma(widen(q, qo + v), p);
                r = FloatVector.fromArray(S, a, ao + v + G).fma(widen(q, qo + v + G), r);
            }
            s = p.fma(FloatVector.broadcast(S, scale[so + gi]), s);
            s = r.fma(FloatVector.broadcast(S, scale[so + gi + 1]), s);
        }
        s.intoArray(sums, o);
        if ((k / G) % 2 == 1) oddGroup(k, a, ao, q, qo, scale, so, sums, o);
    }

    /**
     * The last whole group when their number is odd, onto sums[o ..] as {@link #row} would: in a
     * method of its own, since with a second loop in {@link #row} a stand-alone copy streamed
     * 22-24 GB/s of weights against 25-29 without it.
     */
    private static void oddGroup(int k, float[] a, int ao, byte[] q, int qo, float[] scale, int so, float[] sums, int o) {
        int g0 = (k / G - 1) * G;
        FloatVector p = FloatVector.fromArray(S, a, ao + g0).mul(widen(q, qo + g0));
        for (int u = 1; u < PER; u++) {
            int v = g0 + u * L;
            p = FloatVector.fromArray(S, a, ao + v).fma(widen(q, qo + v), p);
        }
        p.fma(FloatVector.broadcast(S, scale[so + k / G - 1]), FloatVector.fromArray(S, sums, o)).intoArray(sums, o);
    }

    /**
     * Up to 4 rows of A against up to 2 rows of W (missing ones repeat the first), whole groups
     * only: sums[(r*4 + j0 + j)*L ..].
     */
    private static void tile4x2(int k, float[] a, int ao, int lda, int rows, byte[] q, int qo, int ldq, float[] scale,
                                int so, int g, int cols, float[] sums, int j0) {
        int a0 = ao;
        int a1 = ao + (rows > 1 ? lda : 0);
        int a2 = ao + (rows > 2 ? 2 * lda : 0);
        int a3 = ao + (rows > 3 ? 3 * lda : 0);
        int q0 = qo;
        int q1 = qo + (cols > 1 ? ldq : 0);
        int c0 = so;
        int c1 = so + (cols > 1 ? g : 0);
        FloatVector s00 = FloatVector.zero(S), s01 = FloatVector.zero(S);
        FloatVector s10 = FloatVector.zero(S), s11 = FloatVector.zero(S);
        FloatVector s20 = FloatVector.zero(S), s21 = FloatVector.zero(S);
        FloatVector s30 = FloatVector.zero(S), s31 = FloatVector.zero(S);
        for (int g0 = 0, gi = 0; g0 <= k - G; g0 += G, gi++) {
            FloatVector x0 = FloatVector.fromArray(S, a, a0 + g0);
            FloatVector x1 = FloatVector.fromArray(S, a, a1 + g0);
            FloatVector x2 = FloatVector.fromArray(S, a, a2 + g0);
            FloatVector x3 = FloatVector.fromArray(S, a, a3 + g0);
            FloatVector y = widen(q, q0 + g0);
            FloatVector p00 = x0.mul(y), p10 = x1.mul(y), p20 = x2.mul(y), p30 = x3.mul(y);
            y = widen(q, q1 + g0);
            FloatVector p01 = x0.mul(y), p11 = x1.mul(y), p21 = x2.mul(y), p31 = x3.mul(y);
            for (int u = 1; u < PER; u++) {
                int v = g0 + u * L;
                x0 = FloatVector.fromArray(S, a, a0 + v);
                x1 = FloatVector.fromArray(S, a, a1 + v);
                x2 = FloatVector.fromArray(S, a, a2 + v);
                x3 = FloatVector.fromArray(S, a, a3 + v);
                y = widen(q, q0 + v);
                p00 = x0.fma(y, p00);
                p10 = x1.fma(y, p10);
                p20 = x2.fma(y, p20);
                p30 = x3.fma(y, p30);
                y = widen(q, q1 + v);
                p01 = x0.fma(y, p01);
                p11 = x1.fma(y, p11);
                p21 = x2.fma(y, p21);
                p31 = x3.fma(y, p31);
            }
            float sc0 = scale[c0 + gi];
            float sc1 = scale[c1 + gi];
            s00 = p00.fma(FloatVector.broadcast(S, sc0), s00);
            s10 = p10.fma(FloatVector.broadcast(S, sc0), s10);
            s20 = p20.fma(FloatVector.broadcast(S, sc0), s20);
            s30 = p30.fma(FloatVector.broadcast(S, sc0), s30);
            s01 = p01.fma(FloatVector.broadcast(S, sc1), s01);
            s11 = p11.fma(FloatVector.broadcast(S, sc1), s11);
            s21 = p21.fma(FloatVector.broadcast(S, sc1), s21);
            s31 = p31.fma(FloatVector.broadcast(S, sc1), s31);
        }
        s00.intoArray(sums, (j0) * L);
        s01.intoArray(sums, (j0 + 1) * L);
        s10.intoArray(sums, (4 + j0) * L);
        s11.intoArray(sums, (4 + j0 + 1) * L);
        s20.intoArray(sums, (8 + j0) * L);
        s21.intoArray(sums, (8 + j0 + 1) * L);
        s30.intoArray(sums, (12 + j0) * L);
        s31.intoArray(sums, (12 + j0 + 1) * L);
    }

    /**
     * {@code C[r, j] (+)= sumLanes(sums of (r, j)) + the last, partial group}, for r < rows,
     * j < cols (W's row j at {@code qo + j ldq}, its scales at {@code so + j g}, C's column j at
     * {@code co + j cs}); without vectors, every group in order here.
     */
    private static void reduce(float[] sums, int rows, int cols, int k, float[] a, int ao, int lda, byte[] q, int qo,
                               int ldq, float[] scale, int so, int g, float[] c, int co, int ldc, int cs,
                               boolean accumulate) {
        int whole = VECTOR ? k - k % G : 0;
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) {
                float s = Vec.sumLanes(FloatVector.fromArray(S, sums, (r * 4 + j) * L));
                int ar = ao + r * lda;
                s += partialGroups(whole, k, a, ar, q, qo + j * ldq, scale, so + j * g);
                int o = co + r * ldc + j * cs;
                c[o] = accumulate ? c[o] + s : s;
            }
        }
    }
}
