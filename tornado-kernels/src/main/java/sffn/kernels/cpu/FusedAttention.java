package sffn.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The attention forward's CPU body fused in registers (AVX-512, head dim a multiple of 16): for
 * a strip of {@link #MR} queries and a block of {@link #KB} keys, the scores {@code S = Q K^T}
 * are summed in 18 vector registers, turned into probabilities by an online softmax in L1, and
 * multiplied into the strip's output rows by a 6 x 64 register tile ({@code O = O corr + P V});
 * no score block leaves L1 and no GEMM call packs an operand per block. Each key/value head's
 * keys are first transposed once into panels of {@link #KB} keys ({@code [panel, d, KB]}, zero
 * beyond T), read by every query tile and every query head of its group.
 *
 * <p>Layout and semantics are {@code Attention.forward}'s: {@code qkv [B*T, (nq + 2 nkv) d]},
 * {@code out [B*T, nq d]}, {@code lse [B, nq, T]}. Work items are (query tile, batch, head),
 * the last tiles (the most keys) first; within an item, key blocks in order and lanes of the
 * denominator summed in lane order at the end, so results do not depend on the thread count.
 */
public final class FusedAttention {
    private static final VectorSpecies<Float> S = Vec.S;
    private static final int L = Vec.L;
    /** Query rows per register strip. */
    static final int MR = 6;
    /** Keys per block: three vectors of scores per query row. */
    static final int KB = 48;
    /** Query rows per work item: 16 strips, whose output and queries stay in L2 across key blocks. */
    static final int TILE = 96;
    /** Output columns per register tile of the P V product: four vectors. */
    private static final int DV = 64;

    /** Lane indices, for the causal mask (indexInRange is not compiled to a compare everywhere). */
    private static final FloatVector IOTA = FloatVector.fromArray(S, iota(), 0);

    private FusedAttention() {
    }

    /** Whether this body serves head dim {@code d} on this machine (32 vector registers of 16 floats). */
    public static boolean fits(int d) {
        return L == 16 && d > 0 && d % L == 0;
    }

    /** The calling thread's transposed keys, grown as needed; read by every thread of one call. */
    private static final Scratch KEYS = new Scratch();
    /**
     * Each thread's scratch: the strip's scores and probabilities [MR, KB], the running max
     * [TILE], the lane-wise denominators [TILE, L], the strip's corrections [MR] and, for the
     * backward, a second block [MR, KB], with slack
     * so the next object stays off its last cache line (see DotGemm's SUMS).
     */
    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(
            () -> new float[MR * KB + TILE + TILE * L + MR + MR * KB + 16]);
    private static final int M_OFF = MR * KB;
    private static final int L_OFF = M_OFF + TILE;
    private static final int C_OFF = L_OFF + TILE * L;
    /** The backward's second score block: dP, then dS. */
    private static final int DS_OFF = C_OFF + MR;

    public static void forward(float[] qkv, float[] out, float[] lse, int batch, int seqLen, int nq, int nkv, int d) {
        if (!fits(d)) throw new IllegalArgumentException("FusedAttention: head dim " + d + " needs a multiple of 16 and AVX-512");
        int stride = (nq + 2 * nkv) * d;
        int panels = (seqLen + KB - 1) / KB;
        int perHead = panels * d * KB;
        float[] keys = KEYS.get(batch * nkv * perHead);
        Workers.pool().parallelFor(batch * nkv, 1, (long) batch * nkv * seqLen * d, (from, to) -> {
            for (int bg = from; bg < to; bg++) {
                int b = bg / nkv;
                int g = bg - b * nkv;
                transposeKeys(qkv, (b * seqLen) * stride + (nq + g) * d, stride, seqLen, d, keys, bg * perHead);
            }
        });
        int tiles = (seqLen + TILE - 1) / TILE;
        int heads = batch * nq;
        int group = nq / nkv;
        float scale = 1f / (float) Math.sqrt(d);
        Workers.pool().parallelFor(heads * tiles, 1, (from, to) -> {
            float[] w = SCRATCH.get();
            for (int item = from; item < to; item++) {
                int tile = tiles - 1 - item / heads;
                int bh = item % heads;
                int b = bh / nq;
                int h = bh - b * nq;
                int bg = b * nkv + h / group;
                int t0 = tile * TILE;
                int rows = Math.min(seqLen, t0 + TILE) - t0;
                queryTile(qkv, out, lse, seqLen, nq, nkv, d, stride, scale, b, h, bg, t0, rows, keys, bg * perHead, w);
            }
        });
    }

    private static float[] iota() {
        float[] f = new float[L];
        for (int i = 0; i < L; i++) f[i] = i;
        return f;
    }

    /**
     * Each thread's own rows of output (a query tile's O, a head's dQ), copied out once at the end
     * of a work item: accumulated in place, a head's d columns share their first and last cache
     * lines with the neighbouring heads, which the other threads are writing at the same time.
     */
    private static final Scratch ROWS = new Scratch(16);

    /** {@code kt[ko + (u / KB) d KB + e KB + u % KB] = K[u, e]}, zero for u in [T, panels KB). */
    private static void transposeKeys(float[] qkv, int kOff, int stride, int seqLen, int d, float[] kt, int ko) {
        int panels = (seqLen + KB - 1) / KB;
        for (int p = 0; p < panels; p++) {
            int base = ko + p * d * KB;
            for (int j = 0; j < KB; j++) {
                int u = p * KB + j;
                if (u < seqLen) {
                    int src = kOff + u * stride;
                    for (int e = 0; e < d; e++) kt[base + e * KB + j] = qkv[src + e];
                } else {
                    for (int e = 0; e < d; e++) kt[base + e * KB + j] = 0f;
                }
            }
        }
    }

    /**
     * The backward's work per (batch, query head), as {@code Attention.backwardCpu} splits it:
     * {@code delta [B, nq, T]}, the head's dQ in dqkv, and its own dK and dV in
     * {@code part [B, nq, T, 2d]} (dK unscaled, in the first d of each row), for the caller to
     * sum over the group's heads. Per block of 48 keys (in order) and strip of 6 queries that see
     * it (in order): S and dP in registers from keys and values transposed once per key/value
     * head, then {@code P = exp(scale S - lse)}, {@code dS = P (dP - delta)} in L1, and three
     * register-tiled products: dV += P^T dO, dK += dS^T Q (rank-6 updates of the block's rows),
     * dQ += dS K (a 6 x 64 tile); dQ is scaled once at the end.
     */
    public static void backwardHeads(float[] dout, float[] qkv, float[] out, float[] lse, float[] delta, float[] dqkv,
                                     float[] part, int batch, int seqLen, int nq, int nkv, int d) {
        if (!fits(d)) throw new IllegalArgumentException("FusedAttention: head dim " + d + " needs a multiple of 16 and AVX-512");
        int stride = (nq + 2 * nkv) * d;
        int perHead = (seqLen + KB - 1) / KB * d * KB;
        int kvHeads = batch * nkv;
        float[] kv = KEYS.get(2 * kvHeads * perHead);
        Workers.pool().parallelFor(2 * kvHeads, 1, (long) 2 * kvHeads * seqLen * d, (from, to) -> {
            for (int i = from; i < to; i++) {
                int bg = i % kvHeads;
                int b = bg / nkv;
                int g = bg - b * nkv;
                // Keys first, then values.
                int column = (i < kvHeads ? nq + g : nq + nkv + g) * d;
                transposeKeys(qkv, b * seqLen * stride + column, stride, seqLen, d, kv, i * perHead);
            }
        });
        int group = nq / nkv;
        float scale = 1f / (float) Math.sqrt(d);
        Workers.pool().parallelFor(batch * nq, 1, (from, to) -> {
            float[] w = SCRATCH.get();
            for (int bh = from; bh < to; bh++) {
                int b = bh / nq;
                int h = bh - b * nq;
                int g = h / group;
                int bg = b * nkv + g;
                backwardHead(dout, qkv, out, lse, delta, dqkv, part, seqLen, nq, nkv, d, stride, scale, b, h, g,
                        kv, bg * perHead, (kvHeads + bg) * perHead, w);
            }
        });
    }

    private static void backwardHead(float[] dout, float[] qkv, float[] out, float[] lse, float[] delta, float[] dqkv,
                                     float[] part, int seqLen, int nq, int nkv, int d, int stride, float scale, int b,
                                     int h, int g, float[] kv, int kto, int vto, float[] w) {
        int ldo = nq * d;
        int d2 = 2 * d;
        int qBase = b * seqLen * stride + h * d;
        int gBase = b * seqLen * ldo + h * d;
        int kBase = b * seqLen * stride + (nq + g) * d;
        int rowBase = (b * nq + h) * seqLen;
        int pBase = rowBase * d2;
        for (int t = 0; t < seqLen; t++) delta[rowBase + t] = Vec.dot(dout, gBase + t * ldo, out, gBase + t * ldo, d);
        float[] dq = ROWS.get(seqLen * d);
        java.util.Arrays.fill(dq, 0, seqLen * d, 0f);
        // The dQ product is the forward's P V tile with every correction 1 (an exact multiply).
        java.util.Arrays.fill(w, C_OFF, C_OFF + MR, 1f);
        for (int u0 = 0; u0 < seqLen; u0 += KB) {
            int keys = Math.min(KB, seqLen - u0);
            java.util.Arrays.fill(part, pBase + u0 * d2, pBase + (u0 + keys) * d2, 0f);
            int panel = (u0 / KB) * d * KB;
            for (int s0 = u0 / MR * MR; s0 < seqLen; s0 += MR) {
                int sr = Math.min(MR, seqLen - s0);
                int seen = Math.min(keys, s0 + sr - u0);
                int q0 = qBase + s0 * stride;
                int g0 = gBase + s0 * ldo;
                int qr = (sr - 1) * stride;
                int gr = (sr - 1) * ldo;
                int q1 = Math.min(stride, qr), q2 = Math.min(2 * stride, qr), q3 = Math.min(3 * stride, qr);
                int q4 = Math.min(4 * stride, qr), q5 = Math.min(5 * stride, qr);
                int g1 = Math.min(ldo, gr), g2 = Math.min(2 * ldo, gr), g3 = Math.min(3 * ldo, gr);
                int g4 = Math.min(4 * ldo, gr), g5 = Math.min(5 * ldo, gr);
                int dr = (sr - 1) * d;
                scores(qkv, q0, q1, q2, q3, q4, q5, kv, kto + panel, d, w, 0);
                scores(dout, g0, g1, g2, g3, g4, g5, kv, vto + panel, d, w, DS_OFF);
                softmaxBackward(w, sr, s0, u0, scale, lse, delta, rowBase);
                for (int e0 = 0; e0 < d; e0 += DV) {
                    int nv = Math.min(DV, d - e0) / L;
                    int p0 = pBase + u0 * d2 + e0;
                    rankUpdate(dout, g0 + e0, g1, g2, g3, g4, g5, w, 0, seen, part, p0 + d, d2, nv);
                    rankUpdate(qkv, q0 + e0, q1, q2, q3, q4, q5, w, DS_OFF, seen, part, p0, d2, nv);
                    probabilitiesTimesValues(qkv, kBase + u0 * stride + e0, stride, seen, dq, s0 * d + e0,
                            Math.min(d, dr), Math.min(2 * d, dr), Math.min(3 * d, dr), Math.min(4 * d, dr),
                            Math.min(5 * d, dr), sr, nv, w, DS_OFF);
                }
            }
        }
        for (int t = 0; t < seqLen; t++) scaleInto(dq, t * d, dqkv, qBase + t * stride, d, scale);
    }

    /**
     * Rows r < sr of the strip (query {@code s0 + r}, log-sum-exp and delta at
     * {@code rowBase + s0 + r}): the scores at w[r KB] become {@code P = exp(scale s - lse)}
     * (exactly 0 for a key after the query) and dP at w[DS_OFF + r KB] becomes
     * {@code dS = P (dP - delta)}; rows past the strip become 0 in both.
     */
    private static void softmaxBackward(float[] w, int sr, int s0, int u0, float scale, float[] lse, float[] delta,
                                        int rowBase) {
        FloatVector zero = FloatVector.zero(S);
        FloatVector vs = FloatVector.broadcast(S, scale);
        for (int r = 0; r < sr; r++) {
            int o = r * KB;
            int visible = s0 + r - u0 + 1;
            FloatVector vl = FloatVector.broadcast(S, -lse[rowBase + s0 + r]);
            FloatVector vd = FloatVector.broadcast(S, delta[rowBase + s0 + r]);
            // One exp per loop body (see softmax).
            for (int j = 0; j < KB; j += L) {
                FloatVector p = Vec.exp(FloatVector.fromArray(S, w, o + j).fma(vs, vl));
                p = zero.blend(p, IOTA.lt((float) (visible - j)));
                p.intoArray(w, o + j);
                p.mul(FloatVector.fromArray(S, w, DS_OFF + o + j).sub(vd)).intoArray(w, DS_OFF + o + j);
            }
        }
        java.util.Arrays.fill(w, sr * KB, MR * KB, 0f);
        java.util.Arrays.fill(w, DS_OFF + sr * KB, DS_OFF + MR * KB, 0f);
    }

    /** Queries t0 .. t0 + rows of head h against every key they see. */
    private static void queryTile(float[] qkv, float[] out, float[] lse, int seqLen, int nq, int nkv, int d, int stride,
                                  float scale, int b, int h, int bg, int t0, int rows, float[] kt, int ko, float[] w) {
        int ldo = nq * d;
        int qBase = (b * seqLen) * stride + h * d;
        int oBase = (b * seqLen) * ldo + h * d;
        int vBase = (b * seqLen) * stride + (nq + nkv + (bg - b * nkv)) * d;
        float[] o = ROWS.get(rows * d);
        java.util.Arrays.fill(o, 0, rows * d, 0f);
        for (int r = 0; r < rows; r++) w[M_OFF + r] = Float.NEGATIVE_INFINITY;
        java.util.Arrays.fill(w, L_OFF, L_OFF + rows * L, 0f);
        int end = t0 + rows;
        for (int u0 = 0; u0 < end; u0 += KB) {
            int panel = ko + (u0 / KB) * d * KB;
            for (int s0 = 0; s0 < rows; s0 += MR) {
                int sr = Math.min(MR, rows - s0);
                int first = t0 + s0;
                int last = first + sr - 1;
                if (u0 > last) continue;
                int q0 = qBase + first * stride;
                int qr = Math.max(0, sr - 1) * stride;
                scores(qkv, q0, Math.min(stride, qr), Math.min(2 * stride, qr), Math.min(3 * stride, qr),
                        Math.min(4 * stride, qr), Math.min(5 * stride, qr), kt, panel, d, w, 0);
                softmax(w, s0, sr, first, u0, scale);
                int keys = Math.min(KB, last - u0 + 1);
                int or = (sr - 1) * d;
                for (int e0 = 0; e0 < d; e0 += DV) {
                    probabilitiesTimesValues(qkv, vBase + u0 * stride + e0, stride, keys, o, s0 * d + e0,
                            Math.min(d, or), Math.min(2 * d, or), Math.min(3 * d, or), Math.min(4 * d, or),
                            Math.min(5 * d, or), sr, Math.min(DV, d - e0) / L, w, 0);
                }
            }
        }
        for (int r = 0; r < rows; r++) {
            float l = 0f;
            for (int i = 0; i < L; i++) l += w[L_OFF + r * L + i];
            scaleInto(o, r * d, out, oBase + (t0 + r) * ldo, d, 1f / l);
            lse[(b * nq + h) * seqLen + t0 + r] = w[M_OFF + r] + (float) Math.log(l);
        }
    }

    /** {@code y[yo + i] = x[xo + i] s} for i < n, n a multiple of the vector length. */
    private static void scaleInto(float[] x, int xo, float[] y, int yo, int n, float s) {
        for (int i = 0; i < n; i += L) FloatVector.fromArray(S, x, xo + i).mul(s).intoArray(y, yo + i);
    }

    /**
     * {@code w[r KB + j] = q_r . k_j} for the strip's 6 query rows (at {@code q0 + dr}; rows past
     * the strip repeat its last) and the panel's 48 keys, summed over e in order in registers.
     */
    private static void scores(float[] q, int q0, int d1, int d2, int d3, int d4, int d5, float[] kt, int ko, int d,
                               float[] w, int wo) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00;
        FloatVector c30 = c00, c31 = c00, c32 = c00;
        FloatVector c40 = c00, c41 = c00, c42 = c00;
        FloatVector c50 = c00, c51 = c00, c52 = c00;
        for (int e = 0; e < d; e++) {
            int k = ko + e * KB;
            FloatVector k0 = FloatVector.fromArray(S, kt, k);
            FloatVector k1 = FloatVector.fromArray(S, kt, k + L);
            FloatVector k2 = FloatVector.fromArray(S, kt, k + 2 * L);
            int qe = q0 + e;
            FloatVector a = FloatVector.broadcast(S, q[qe]);
            c00 = a.fma(k0, c00);
            c01 = a.fma(k1, c01);
            c02 = a.fma(k2, c02);
            a = FloatVector.broadcast(S, q[qe + d1]);
            c10 = a.fma(k0, c10);
            c11 = a.fma(k1, c11);
            c12 = a.fma(k2, c12);
            a = FloatVector.broadcast(S, q[qe + d2]);
            c20 = a.fma(k0, c20);
            c21 = a.fma(k1, c21);
            c22 = a.fma(k2, c22);
            a = FloatVector.broadcast(S, q[qe + d3]);
            c30 = a.fma(k0, c30);
            c31 = a.fma(k1, c31);
            c32 = a.fma(k2, c32);
            a = FloatVector.broadcast(S, q[qe + d4]);
            c40 = a.fma(k0, c40);
            c41 = a.fma(k1, c41);
            c42 = a.fma(k2, c42);
            a = FloatVector.broadcast(S, q[qe + d5]);
            c50 = a.fma(k0, c50);
            c51 = a.fma(k1, c51);
            c52 = a.fma(k2, c52);
        }
        c00.intoArray(w, wo);
        c01.intoArray(w, wo + L);
        c02.intoArray(w, wo + 2 * L);
        c10.intoArray(w, wo + KB);
        c11.intoArray(w, wo + KB + L);
        c12.intoArray(w, wo + KB + 2 * L);
        c20.intoArray(w, wo + 2 * KB);
        c21.intoArray(w, wo + 2 * KB + L);
        c22.intoArray(w, wo + 2 * KB + 2 * L);
        c30.intoArray(w, wo + 3 * KB);
        c31.intoArray(w, wo + 3 * KB + L);
        c32.intoArray(w, wo + 3 * KB + 2 * L);
        c40.intoArray(w, wo + 4 * KB);
        c41.intoArray(w, wo + 4 * KB + L);
        c42.intoArray(w, wo + 4 * KB + 2 * L);
        c50.intoArray(w, wo + 5 * KB);
        c51.intoArray(w, wo + 5 * KB + L);
        c52.intoArray(w, wo + 5 * KB + 2 * L);
    }

    /**
     * The online softmax of the strip's rows r < sr (query {@code first + r}, tile row
     * {@code s0 + r}) over keys u0 .. u0 + KB: with the scaled block max folded into the running
     * max m, {@code p = exp(scale s - m)} (exactly 0 for a key after the query),
     * {@code corr = exp(m_old - m)} (0 before the first block), the lane-wise denominator
     * {@code l = l corr + p}. Probabilities overwrite the scores; corrections go to w[C_OFF + r].
     */
    private static void softmax(float[] w, int s0, int sr, int first, int u0, float scale) {
        if (u0 + KB - 1 > first) {
            softmaxDiagonal(w, s0, sr, first, u0, scale);
            return;
        }
        FloatVector vs = FloatVector.broadcast(S, scale);
        for (int r = 0; r < sr; r++) {
            int o = r * KB;
            FloatVector y = FloatVector.fromArray(S, w, o).max(FloatVector.fromArray(S, w, o + L))
                    .max(FloatVector.fromArray(S, w, o + 2 * L));
            float m = newMax(w, s0 + r, r, y, scale);
            FloatVector vm = FloatVector.broadcast(S, -m);
            FloatVector sum = FloatVector.zero(S);
            // One exp per loop body: the JIT inlines a few copies of it only (NodeCountInliningCutoff), and a call boxes.
            for (int j = 0; j < KB; j += L) {
                FloatVector p = Vec.exp(FloatVector.fromArray(S, w, o + j).fma(vs, vm));
                p.intoArray(w, o + j);
                sum = sum.add(p);
            }
            int li = L_OFF + (s0 + r) * L;
            FloatVector.fromArray(S, w, li).mul(w[C_OFF + r]).add(sum).intoArray(w, li);
        }
    }

    /** {@link #softmax} for a block that holds keys after some of the strip's queries: those lanes are masked. */
    private static void softmaxDiagonal(float[] w, int s0, int sr, int first, int u0, float scale) {
        FloatVector ninf = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        FloatVector zero = FloatVector.zero(S);
        FloatVector vs = FloatVector.broadcast(S, scale);
        for (int r = 0; r < sr; r++) {
            int o = r * KB;
            int visible = first + r - u0 + 1;
            FloatVector y = ninf;
            for (int j = 0; j < KB; j += L) {
                y = y.max(ninf.blend(FloatVector.fromArray(S, w, o + j), IOTA.lt((float) (visible - j))));
            }
            float m = newMax(w, s0 + r, r, y, scale);
            FloatVector vm = FloatVector.broadcast(S, -m);
            FloatVector sum = zero;
            for (int j = 0; j < KB; j += L) {
                FloatVector p = Vec.exp(FloatVector.fromArray(S, w, o + j).fma(vs, vm));
                p = zero.blend(p, IOTA.lt((float) (visible - j)));
                p.intoArray(w, o + j);
                sum = sum.add(p);
            }
            int li = L_OFF + (s0 + r) * L;
            FloatVector.fromArray(S, w, li).mul(w[C_OFF + r]).add(sum).intoArray(w, li);
        }
    }

    /**
     * The running max of tile row {@code row} after a block whose lane-wise maxima of raw scores
     * are y, and the strip row's correction at w[C_OFF + r]. The max moves in few blocks once the
     * first keys are seen: reduce across lanes (NaN-aware, a long dependent chain per row) and
     * rescale only when a lane passes it. max commutes with scaling by a positive float.
     */
    private static float newMax(float[] w, int row, int r, FloatVector y, float scale) {
        int mi = M_OFF + row;
        float m = w[mi];
        float corr = 1f;
        if (y.mul(scale).compare(VectorOperators.GT, m).anyTrue()) {
            float mNew = y.reduceLanes(VectorOperators.MAX) * scale;
            corr = m == Float.NEGATIVE_INFINITY ? 0f : Vec.exp(m - mNew);
            m = mNew;
            w[mi] = m;
        }
        w[C_OFF + r] = corr;
        return m;
    }

    /**
     * {@code acc[ao + u lda + 0:nv L] += sum_r w[po + r KB + u] x_r[0:nv L]} for u < keys: a rank-6
     * update of a block of key rows (dK from dS and Q, dV from P and dO) with the strip's 6 rows of
     * x (at {@code x0 + dr}) held in 24 registers; rows of w past the strip must be zero. Missing
     * vectors (nv < 4) repeat the last and are not stored.
     */
    private static void rankUpdate(float[] x, int x0, int d1, int d2, int d3, int d4, int d5, float[] w, int po, int keys,
                                   float[] acc, int ao, int lda, int nv) {
        int e1 = Math.min(1, nv - 1) * L;
        int e2 = Math.min(2, nv - 1) * L;
        int e3 = Math.min(3, nv - 1) * L;
        FloatVector x00 = FloatVector.fromArray(S, x, x0);
        FloatVector x01 = FloatVector.fromArray(S, x, x0 + e1);
        FloatVector x02 = FloatVector.fromArray(S, x, x0 + e2);
        FloatVector x03 = FloatVector.fromArray(S, x, x0 + e3);
        FloatVector x10 = FloatVector.fromArray(S, x, x0 + d1);
        FloatVector x11 = FloatVector.fromArray(S, x, x0 + d1 + e1);
        FloatVector x12 = FloatVector.fromArray(S, x, x0 + d1 + e2);
        FloatVector x13 = FloatVector.fromArray(S, x, x0 + d1 + e3);
        FloatVector x20 = FloatVector.fromArray(S, x, x0 + d2);
        FloatVector x21 = FloatVector.fromArray(S, x, x0 + d2 + e1);
        FloatVector x22 = FloatVector.fromArray(S, x, x0 + d2 + e2);
        FloatVector x23 = FloatVector.fromArray(S, x, x0 + d2 + e3);
        FloatVector x30 = FloatVector.fromArray(S, x, x0 + d3);
        FloatVector x31 = FloatVector.fromArray(S, x, x0 + d3 + e1);
        FloatVector x32 = FloatVector.fromArray(S, x, x0 + d3 + e2);
        FloatVector x33 = FloatVector.fromArray(S, x, x0 + d3 + e3);
        FloatVector x40 = FloatVector.fromArray(S, x, x0 + d4);
        FloatVector x41 = FloatVector.fromArray(S, x, x0 + d4 + e1);
        FloatVector x42 = FloatVector.fromArray(S, x, x0 + d4 + e2);
        FloatVector x43 = FloatVector.fromArray(S, x, x0 + d4 + e3);
        FloatVector x50 = FloatVector.fromArray(S, x, x0 + d5);
        FloatVector x51 = FloatVector.fromArray(S, x, x0 + d5 + e1);
        FloatVector x52 = FloatVector.fromArray(S, x, x0 + d5 + e2);
        FloatVector x53 = FloatVector.fromArray(S, x, x0 + d5 + e3);
        for (int u = 0; u < keys; u++) {
            int a = ao + u * lda;
            FloatVector a0 = FloatVector.fromArray(S, acc, a);
            FloatVector a1 = FloatVector.fromArray(S, acc, a + e1);
            FloatVector a2 = FloatVector.fromArray(S, acc, a + e2);
            FloatVector a3 = FloatVector.fromArray(S, acc, a + e3);
            FloatVector p = FloatVector.broadcast(S, w[po + u]);
            a0 = p.fma(x00, a0);
            a1 = p.fma(x01, a1);
            a2 = p.fma(x02, a2);
            a3 = p.fma(x03, a3);
            p = FloatVector.broadcast(S, w[po + KB + u]);
            a0 = p.fma(x10, a0);
            a1 = p.fma(x11, a1);
            a2 = p.fma(x12, a2);
            a3 = p.fma(x13, a3);
            p = FloatVector.broadcast(S, w[po + 2 * KB + u]);
            a0 = p.fma(x20, a0);
            a1 = p.fma(x21, a1);
            a2 = p.fma(x22, a2);
            a3 = p.fma(x23, a3);
            p = FloatVector.broadcast(S, w[po + 3 * KB + u]);
            a0 = p.fma(x30, a0);
            a1 = p.fma(x31, a1);
            a2 = p.fma(x32, a2);
            a3 = p.fma(x33, a3);
            p = FloatVector.broadcast(S, w[po + 4 * KB + u]);
            a0 = p.fma(x40, a0);
            a1 = p.fma(x41, a1);
            a2 = p.fma(x42, a2);
            a3 = p.fma(x43, a3);
            p = FloatVector.broadcast(S, w[po + 5 * KB + u]);
            a0 = p.fma(x50, a0);
            a1 = p.fma(x51, a1);
            a2 = p.fma(x52, a2);
            a3 = p.fma(x53, a3);
            a0.intoArray(acc, a);
            if (nv > 1) a1.intoArray(acc, a + e1);
            if (nv > 2) a2.intoArray(acc, a + e2);
            if (nv > 3) a3.intoArray(acc, a + e3);
        }
    }

    /**
     * {@code O[r, 0:nv L] = O[r] corr_r + sum_(u < keys) P[r, u] V[u]} for the strip's rows
     * r < sr (at {@code o0 + dr}; rows past the strip repeat its last and are not stored), over
     * nv <= 4 vectors of columns (missing vectors repeat the last and are not stored).
     */
    private static void probabilitiesTimesValues(float[] v, int vo, int ldv, int keys, float[] out, int o0, int d1, int d2,
                                                 int d3, int d4, int d5, int sr, int nv, float[] w, int po) {
        int e1 = Math.min(1, nv - 1) * L;
        int e2 = Math.min(2, nv - 1) * L;
        int e3 = Math.min(3, nv - 1) * L;
        FloatVector f0 = FloatVector.broadcast(S, w[C_OFF]);
        FloatVector f1 = FloatVector.broadcast(S, w[C_OFF + Math.min(1, sr - 1)]);
        FloatVector f2 = FloatVector.broadcast(S, w[C_OFF + Math.min(2, sr - 1)]);
        FloatVector f3 = FloatVector.broadcast(S, w[C_OFF + Math.min(3, sr - 1)]);
        FloatVector f4 = FloatVector.broadcast(S, w[C_OFF + Math.min(4, sr - 1)]);
        FloatVector f5 = FloatVector.broadcast(S, w[C_OFF + Math.min(5, sr - 1)]);
        FloatVector c00 = FloatVector.fromArray(S, out, o0).mul(f0);
        FloatVector c01 = FloatVector.fromArray(S, out, o0 + e1).mul(f0);
        FloatVector c02 = FloatVector.fromArray(S, out, o0 + e2).mul(f0);
        FloatVector c03 = FloatVector.fromArray(S, out, o0 + e3).mul(f0);
        FloatVector c10 = FloatVector.fromArray(S, out, o0 + d1).mul(f1);
        FloatVector c11 = FloatVector.fromArray(S, out, o0 + d1 + e1).mul(f1);
        FloatVector c12 = FloatVector.fromArray(S, out, o0 + d1 + e2).mul(f1);
        FloatVector c13 = FloatVector.fromArray(S, out, o0 + d1 + e3).mul(f1);
        FloatVector c20 = FloatVector.fromArray(S, out, o0 + d2).mul(f2);
        FloatVector c21 = FloatVector.fromArray(S, out, o0 + d2 + e1).mul(f2);
        FloatVector c22 = FloatVector.fromArray(S, out, o0 + d2 + e2).mul(f2);
        FloatVector c23 = FloatVector.fromArray(S, out, o0 + d2 + e3).mul(f2);
        FloatVector c30 = FloatVector.fromArray(S, out, o0 + d3).mul(f3);
        FloatVector c31 = FloatVector.fromArray(S, out, o0 + d3 + e1).mul(f3);
        FloatVector c32 = FloatVector.fromArray(S, out, o0 + d3 + e2).mul(f3);
        FloatVector c33 = FloatVector.fromArray(S, out, o0 + d3 + e3).mul(f3);
        FloatVector c40 = FloatVector.fromArray(S, out, o0 + d4).mul(f4);
        FloatVector c41 = FloatVector.fromArray(S, out, o0 + d4 + e1).mul(f4);
        FloatVector c42 = FloatVector.fromArray(S, out, o0 + d4 + e2).mul(f4);
        FloatVector c43 = FloatVector.fromArray(S, out, o0 + d4 + e3).mul(f4);
        FloatVector c50 = FloatVector.fromArray(S, out, o0 + d5).mul(f5);
        FloatVector c51 = FloatVector.fromArray(S, out, o0 + d5 + e1).mul(f5);
        FloatVector c52 = FloatVector.fromArray(S, out, o0 + d5 + e2).mul(f5);
        FloatVector c53 = FloatVector.fromArray(S, out, o0 + d5 + e3).mul(f5);
        int p1 = po + Math.min(1, sr - 1) * KB;
        int p2 = po + Math.min(2, sr - 1) * KB;
        int p3 = po + Math.min(3, sr - 1) * KB;
        int p4 = po + Math.min(4, sr - 1) * KB;
        int p5 = po + Math.min(5, sr - 1) * KB;
        for (int u = 0; u < keys; u++) {
            int vu = vo + u * ldv;
            FloatVector v0 = FloatVector.fromArray(S, v, vu);
            FloatVector v1 = FloatVector.fromArray(S, v, vu + e1);
            FloatVector v2 = FloatVector.fromArray(S, v, vu + e2);
            FloatVector v3 = FloatVector.fromArray(S, v, vu + e3);
            FloatVector a = FloatVector.broadcast(S, w[po + u]);
            c00 = a.fma(v0, c00);
            c01 = a.fma(v1, c01);
            c02 = a.fma(v2, c02);
            c03 = a.fma(v3, c03);
            a = FloatVector.broadcast(S, w[p1 + u]);
            c10 = a.fma(v0, c10);
            c11 = a.fma(v1, c11);
            c12 = a.fma(v2, c12);
            c13 = a.fma(v3, c13);
            a = FloatVector.broadcast(S, w[p2 + u]);
            c20 = a.fma(v0, c20);
            c21 = a.fma(v1, c21);
            c22 = a.fma(v2, c22);
            c23 = a.fma(v3, c23);
            a = FloatVector.broadcast(S, w[p3 + u]);
            c30 = a.fma(v0, c30);
            c31 = a.fma(v1, c31);
            c32 = a.fma(v2, c32);
            c33 = a.fma(v3, c33);
            a = FloatVector.broadcast(S, w[p4 + u]);
            c40 = a.fma(v0, c40);
            c41 = a.fma(v1, c41);
            c42 = a.fma(v2, c42);
            c43 = a.fma(v3, c43);
            a = FloatVector.broadcast(S, w[p5 + u]);
            c50 = a.fma(v0, c50);
            c51 = a.fma(v1, c51);
            c52 = a.fma(v2, c52);
            c53 = a.fma(v3, c53);
        }
        // Stored here, not by a helper taking the vectors: one the JIT does not inline boxes them.
        c00.intoArray(out, o0);
        if (nv > 1) c01.intoArray(out, o0 + e1);
        if (nv > 2) c02.intoArray(out, o0 + e2);
        if (nv > 3) c03.intoArray(out, o0 + e3);
        if (sr > 1) {
            c10.intoArray(out, o0 + d1);
            if (nv > 1) c11.intoArray(out, o0 + d1 + e1);
            if (nv > 2) c12.intoArray(out, o0 + d1 + e2);
            if (nv > 3) c13.intoArray(out, o0 + d1 + e3);
        }
        if (sr > 2) {
            c20.intoArray(out, o0 + d2);
            if (nv > 1) c21.intoArray(out, o0 + d2 + e1);
            if (nv > 2) c22.intoArray(out, o0 + d2 + e2);
            if (nv > 3) c23.intoArray(out, o0 + d2 + e3);
        }
        if (sr > 3) {
            c30.intoArray(out, o0 + d3);
            if (nv > 1) c31.intoArray(out, o0 + d3 + e1);
            if (nv > 2) c32.intoArray(out, o0 + d3 + e2);
            if (nv > 3) c33.intoArray(out, o0 + d3 + e3);
        }
        if (sr > 4) {
            c40.intoArray(out, o0 + d4);
            if (nv > 1) c41.intoArray(out, o0 + d4 + e1);
            if (nv > 2) c42.intoArray(out, o0 + d4 + e2);
            if (nv > 3) c43.intoArray(out, o0 + d4 + e3);
        }
        if (sr > 5) {
            c50.intoArray(out, o0 + d5);
            if (nv > 1) c51.intoArray(out, o0 + d5 + e1);
            if (nv > 2) c52.intoArray(out, o0 + d5 + e2);
            if (nv > 3) c53.intoArray(out, o0 + d5 + e3);
        }
    }
}
