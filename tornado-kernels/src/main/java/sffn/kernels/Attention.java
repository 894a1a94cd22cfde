package sffn.kernels;

import sffn.kernels.cpu.FusedAttention;
import sffn.kernels.cpu.Scratch;
import sffn.kernels.cpu.Sgemm;
import sffn.kernels.cpu.SoftmaxRows;
import sffn.kernels.cpu.Vec;
import sffn.kernels.cpu.Workers;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.annotations.Parallel;

/**
 * Causal self-attention with grouped-query heads over the fused projection
 * {@code qkv [B*T, (nq + 2 nkv) d]} (per row: nq query heads, then nkv key heads, then nkv
 * value heads). Query head h reads key/value head {@code h / (nq / nkv)}; scores are scaled by
 * {@code 1/sqrt(d)}. Output {@code out [B*T, nq d]}.
 *
 * <p>FlashAttention-style: no T x T matrix is ever stored. Forward streams over the keys with an
 * online softmax and saves only the log-sum-exp of each row's scaled scores,
 * {@code lse [B, nq, T]}. Backward recomputes {@code P = exp(scale q.k - lse)} where it needs it;
 * with {@code dP = dout . V^T}, {@code delta_t = rowsum(P * dP) = dout_t . out_t} and
 * {@code dS = P * (dP - delta)}: {@code dQ = scale dS K}, {@code dK = scale dS^T Q},
 * {@code dV = P^T dout}, summed over the query heads of a group. It runs as two kernels, queries
 * (which also writes {@code delta [B, nq, T]}) then keys and values, so that every output element
 * has one writer.
 */
public final class Attention {
    private Attention() {
    }

    // ---- portable bodies: one work item per (batch, head, row), streaming over the other side ---

    /** Per (b, h, t): online softmax over keys u <= t, accumulating in out's row; lse saved. */
    public static void forward(float[] qkv, float[] out, float[] lse, int batch, int seqLen, int nq, int nkv, int d) {
        for (@Parallel int bh = 0; bh < batch * nq; bh++) {
            for (@Parallel int t = 0; t < seqLen; t++) {
                int b = bh / nq;
                int h = bh - b * nq;
                int g = h / (nq / nkv);
                int stride = (nq + 2 * nkv) * d;
                float scale = 1f / (float) Math.sqrt(d);
                int qo = (b * seqLen + t) * stride + h * d;
                int oo = (b * seqLen + t) * nq * d + h * d;
                for (int e = 0; e < d; e++) {
                    out[oo + e] = 0f;
                }
                float max = Float.NEGATIVE_INFINITY;
                float sum = 0f;
                for (int u = 0; u <= t; u++) {
                    int ko = (b * seqLen + u) * stride + (nq + g) * d;
                    int vo = (b * seqLen + u) * stride + (nq + nkv + g) * d;
                    float s = 0f;
                    for (int e = 0; e < d; e++) {
                        s += qkv[qo + e] * qkv[ko + e];
                    }
                    s = s * scale;
                    if (s > max) {
                        // Rescale what was summed under the old max (nothing before the first key).
                        float c = (float) Math.exp(max - s);
                        sum = sum * c;
                        for (int e = 0; e < d; e++) {
                            out[oo + e] = out[oo + e] * c;
                        }
                        max = s;
                    }
                    float p = (float) Math.exp(s - max);
                    sum += p;
                    for (int e = 0; e < d; e++) {
                        out[oo + e] += p * qkv[vo + e];
                    }
                }
                float inv = 1f / sum;
                for (int e = 0; e < d; e++) {
                    out[oo + e] = out[oo + e] * inv;
                }
                lse[bh * seqLen + t] = max + (float) Math.log(sum);
            }
        }
    }

    /** Per (b, h, t): delta = dout.out, then dq = scale sum_(u <= t) dS_u k_u. */
    public static void backwardQuery(float[] dout, float[] qkv, float[] out, float[] lse, float[] delta, float[] dqkv,
                                     int batch, int seqLen, int nq, int nkv, int d) {
        for (@Parallel int bh = 0; bh < batch * nq; bh++) {
            for (@Parallel int t = 0; t < seqLen; t++) {
                int b = bh / nq;
                int h = bh - b * nq;
                int g = h / (nq / nkv);
                int stride = (nq + 2 * nkv) * d;
                float scale = 1f / (float) Math.sqrt(d);
                int qo = (b * seqLen + t) * stride + h * d;
                int go = (b * seqLen + t) * nq * d + h * d;
                float dl = 0f;
                for (int e = 0; e < d; e++) {
                    dl += dout[go + e] * out[go + e];
                    dqkv[qo + e] = 0f;
                }
                delta[bh * seqLen + t] = dl;
                float m = lse[bh * seqLen + t];
                for (int u = 0; u <= t; u++) {
                    int ko = (b * seqLen + u) * stride + (nq + g) * d;
                    int vo = (b * seqLen + u) * stride + (nq + nkv + g) * d;
                    float s = 0f;
                    float dp = 0f;
                    for (int e = 0; e < d; e++) {
                        s += qkv[qo + e] * qkv[ko + e];
                        dp += dout[go + e] * qkv[vo + e];
                    }
                    float ds = (float) Math.exp(s * scale - m) * (dp - dl) * scale;
                    for (int e = 0; e < d; e++) {
                        dqkv[qo + e] += ds * qkv[ko + e];
                    }
                }
            }
        }
    }

    /** Per (b, g, u): over the group's heads and queries t >= u, dk = scale sum dS q_t, dv = sum P dout_t. */
    public static void backwardKeyValue(float[] dout, float[] qkv, float[] lse, float[] delta, float[] dqkv,
                                        int batch, int seqLen, int nq, int nkv, int d) {
        for (@Parallel int bg = 0; bg < batch * nkv; bg++) {
            for (@Parallel int u = 0; u < seqLen; u++) {
                int b = bg / nkv;
                int g = bg - b * nkv;
                int group = nq / nkv;
                int stride = (nq + 2 * nkv) * d;
                float scale = 1f / (float) Math.sqrt(d);
                int ko = (b * seqLen + u) * stride + (nq + g) * d;
                int vo = (b * seqLen + u) * stride + (nq + nkv + g) * d;
                for (int e = 0; e < d; e++) {
                    dqkv[ko + e] = 0f;
                    dqkv[vo + e] = 0f;
                }
                for (int hh = 0; hh < group; hh++) {
                    int h = g * group + hh;
                    for (int t = u; t < seqLen; t++) {
                        int qo = (b * seqLen + t) * stride + h * d;
                        int go = (b * seqLen + t) * nq * d + h * d;
                        int row = (b * nq + h) * seqLen + t;
                        float s = 0f;
                        float dp = 0f;
                        for (int e = 0; e < d; e++) {
                            s += qkv[qo + e] * qkv[ko + e];
                            dp += dout[go + e] * qkv[vo + e];
                        }
                        float p = (float) Math.exp(s * scale - lse[row]);
                        float ds = p * (dp - delta[row]) * scale;
                        for (int e = 0; e < d; e++) {
                            dqkv[ko + e] += ds * qkv[qo + e];
                            dqkv[vo + e] += p * dout[go + e];
                        }
                    }
                }
            }
        }
    }

    // ---- KernelContext body: the forward in local-memory tiles (GPUs) --------------------------

    /** Queries per work-group of {@link #forwardTiled}. */
    public static final int FLASH_Q = 32;
    /** Keys per block of {@link #forwardTiled}. */
    public static final int FLASH_K = 64;
    /** Largest head dim the KernelContext kernels serve (their local arrays are sized for it). */
    public static final int FLASH_D = 64;
    /** Keys (and queries) per block of the backward's KernelContext kernels; keys per work-group of {@link #backwardKeyValueTiled}. */
    public static final int FLASH_B = 32;
    /** Work-group of {@link #forwardTiled}: FLASH_TX x FLASH_TY work-items, each 4 x 4 scores and 4 x 4 outputs. */
    public static final int FLASH_TX = 16;
    public static final int FLASH_TY = 8;

    /**
     * The forward as one KernelContext kernel in the manner of FlashAttention (GPUs; head dim at
     * most {@link #FLASH_D}): a work-group takes {@link #FLASH_Q} queries of one (batch, head),
     * keeps them in local memory, and walks the keys they can see in blocks of {@link #FLASH_K}:
     * the block's keys, then its values, are staged in local memory; {@code S = Q K^T} (4 x 4 per
     * work-item, in registers) goes to local memory, the first {@link #FLASH_Q} work-items turn
     * their rows into probabilities with the online softmax (running max, denominator and
     * correction in local memory), and {@code O = O corr + P V} accumulates in registers (4 x 4 per
     * work-item) across all blocks. No score leaves the work-group. Grid:
     * {@code (ceil(T / FLASH_Q) FLASH_TX, B nq FLASH_TY)}, work-groups {@code (FLASH_TX, FLASH_TY)}.
     */
    public static void forwardTiled(KernelContext ctx, float[] qkv, float[] out, float[] lse, int seqLen, int nq, int nkv,
                                    int d) {
        // Local memory: Q and K k-major ([e][i], [e][j]), then V row-major ([j][e]) in K's place,
        // P key-major ([j][i]); rows padded by one word. The literals below are FLASH_Q (32),
        // FLASH_K (64), FLASH_D (64) and the work-group's 128 items: a local array's size must be a
        // compile-time constant.
        float[] qs = ctx.allocateFloatLocalArray(64 * 33);
        float[] kvs = ctx.allocateFloatLocalArray(64 * 65);
        float[] ps = ctx.allocateFloatLocalArray(64 * 33);
        float[] ms = ctx.allocateFloatLocalArray(32);
        float[] ls = ctx.allocateFloatLocalArray(32);
        float[] cs = ctx.allocateFloatLocalArray(32);
        int tx = ctx.localIdx;
        int ty = ctx.localIdy;
        int lid = ty * 16 + tx;
        int t0 = ctx.groupIdx * 32;
        int bh = ctx.groupIdy;
        int b = bh / nq;
        int h = bh - b * nq;
        int g = h / (nq / nkv);
        int stride = (nq + 2 * nkv) * d;
        float scale = 1f / (float) Math.sqrt(d);
        int rowBase = b * seqLen;
        for (int x = lid; x < 32 * 64; x += 128) {
            int i = x / 64;
            int e = x - i * 64;
            float v = 0f;
            if (t0 + i < seqLen && e < d) {
                v = qkv[(rowBase + t0 + i) * stride + h * d + e];
            }
            qs[e * 33 + i] = v;
        }
        if (lid < 32) {
            ms[lid] = MASKED;
            ls[lid] = 0f;
        }
        float o0_0 = 0f; float o0_1 = 0f; float o0_2 = 0f; float o0_3 = 0f;
        float o1_0 = 0f; float o1_1 = 0f; float o1_2 = 0f; float o1_3 = 0f;
        float o2_0 = 0f; float o2_1 = 0f; float o2_2 = 0f; float o2_3 = 0f;
        float o3_0 = 0f; float o3_1 = 0f; float o3_2 = 0f; float o3_3 = 0f;
        int end = Math.min(seqLen, t0 + 32);
        for (int u0 = 0; u0 < end; u0 += 64) {
            ctx.localBarrier();
            for (int x = lid; x < 64 * 64; x += 128) {
                int j = x / 64;
                int e = x - j * 64;
                float v = 0f;
                if (u0 + j < seqLen && e < d) {
                    v = qkv[(rowBase + u0 + j) * stride + (nq + g) * d + e];
                }
                kvs[e * 65 + j] = v;
            }
            ctx.localBarrier();
            float s0_0 = 0f; float s0_1 = 0f; float s0_2 = 0f; float s0_3 = 0f;
            float s1_0 = 0f; float s1_1 = 0f; float s1_2 = 0f; float s1_3 = 0f;
            float s2_0 = 0f; float s2_1 = 0f; float s2_2 = 0f; float s2_3 = 0f;
            float s3_0 = 0f; float s3_1 = 0f; float s3_2 = 0f; float s3_3 = 0f;
            for (int e = 0; e < d; e++) {
                float q0 = qs[e * 33 + ty + 0];
                float q1 = qs[e * 33 + ty + 8];
                float q2 = qs[e * 33 + ty + 16];
                float q3 = qs[e * 33 + ty + 24];
                float k0 = kvs[e * 65 + tx + 0];
                float k1 = kvs[e * 65 + tx + 16];
                float k2 = kvs[e * 65 + tx + 32];
                float k3 = kvs[e * 65 + tx + 48];
                s0_0 += q0 * k0; s0_1 += q0 * k1; s0_2 += q0 * k2; s0_3 += q0 * k3;
                s1_0 += q1 * k0; s1_1 += q1 * k1; s1_2 += q1 * k2; s1_3 += q1 * k3;
                s2_0 += q2 * k0; s2_1 += q2 * k1; s2_2 += q2 * k2; s2_3 += q2 * k3;
                s3_0 += q3 * k0; s3_1 += q3 * k1; s3_2 += q3 * k2; s3_3 += q3 * k3;
            }
            ps[(tx + 0) * 33 + ty + 0] = maskedScore(s0_0 * scale, t0 + ty + 0, u0 + tx + 0, seqLen);
            ps[(tx + 16) * 33 + ty + 0] = maskedScore(s0_1 * scale, t0 + ty + 0, u0 + tx + 16, seqLen);
            ps[(tx + 32) * 33 + ty + 0] = maskedScore(s0_2 * scale, t0 + ty + 0, u0 + tx + 32, seqLen);
            ps[(tx + 48) * 33 + ty + 0] = maskedScore(s0_3 * scale, t0 + ty + 0, u0 + tx + 48, seqLen);
            ps[(tx + 0) * 33 + ty + 8] = maskedScore(s1_0 * scale, t0 + ty + 8, u0 + tx + 0, seqLen);
            ps[(tx + 16) * 33 + ty + 8] = maskedScore(s1_1 * scale, t0 + ty + 8, u0 + tx + 16, seqLen);
            ps[(tx + 32) * 33 + ty + 8] = maskedScore(s1_2 * scale, t0 + ty + 8, u0 + tx + 32, seqLen);
            ps[(tx + 48) * 33 + ty + 8] = maskedScore(s1_3 * scale, t0 + ty + 8, u0 + tx + 48, seqLen);
            ps[(tx + 0) * 33 + ty + 16] = maskedScore(s2_0 * scale, t0 + ty + 16, u0 + tx + 0, seqLen);
            ps[(tx + 16) * 33 + ty + 16] = maskedScore(s2_1 * scale, t0 + ty + 16, u0 + tx + 16, seqLen);
            ps[(tx + 32) * 33 + ty + 16] = maskedScore(s2_2 * scale, t0 + ty + 16, u0 + tx + 32, seqLen);
            ps[(tx + 48) * 33 + ty + 16] = maskedScore(s2_3 * scale, t0 + ty + 16, u0 + tx + 48, seqLen);
            ps[(tx + 0) * 33 + ty + 24] = maskedScore(s3_0 * scale, t0 + ty + 24, u0 + tx + 0, seqLen);
            ps[(tx + 16) * 33 + ty + 24] = maskedScore(s3_1 * scale, t0 + ty + 24, u0 + tx + 16, seqLen);
            ps[(tx + 32) * 33 + ty + 24] = maskedScore(s3_2 * scale, t0 + ty + 24, u0 + tx + 32, seqLen);
            ps[(tx + 48) * 33 + ty + 24] = maskedScore(s3_3 * scale, t0 + ty + 24, u0 + tx + 48, seqLen);
            ctx.localBarrier();
            // Values replace the keys; the first 32 work-items turn their rows into probabilities.
            for (int x = lid; x < 64 * 64; x += 128) {
                int j = x / 64;
                int e = x - j * 64;
                float v = 0f;
                if (u0 + j < seqLen && e < d) {
                    v = qkv[(rowBase + u0 + j) * stride + (nq + nkv + g) * d + e];
                }
                kvs[j * 65 + e] = v;
            }
            if (lid < 32) {
                float mOld = ms[lid];
                float m = mOld;
                for (int j = 0; j < 64; j++) {
                    m = Math.max(m, ps[j * 33 + lid]);
                }
                float sum = 0f;
                for (int j = 0; j < 64; j++) {
                    float p = (float) Math.exp(ps[j * 33 + lid] - m);
                    ps[j * 33 + lid] = p;
                    sum += p;
                }
                // exp(MASKED - m) = 0 before the first block, whose first key every query sees.
                float corr = (float) Math.exp(mOld - m);
                ls[lid] = ls[lid] * corr + sum;
                ms[lid] = m;
                cs[lid] = corr;
            }
            ctx.localBarrier();
            float f0 = cs[ty + 0];
            float f1 = cs[ty + 8];
            float f2 = cs[ty + 16];
            float f3 = cs[ty + 24];
            o0_0 = o0_0 * f0; o0_1 = o0_1 * f0; o0_2 = o0_2 * f0; o0_3 = o0_3 * f0;
            o1_0 = o1_0 * f1; o1_1 = o1_1 * f1; o1_2 = o1_2 * f1; o1_3 = o1_3 * f1;
            o2_0 = o2_0 * f2; o2_1 = o2_1 * f2; o2_2 = o2_2 * f2; o2_3 = o2_3 * f2;
            o3_0 = o3_0 * f3; o3_1 = o3_1 * f3; o3_2 = o3_2 * f3; o3_3 = o3_3 * f3;
            for (int j = 0; j < 64; j++) {
                float p0 = ps[j * 33 + ty + 0];
                float p1 = ps[j * 33 + ty + 8];
                float p2 = ps[j * 33 + ty + 16];
                float p3 = ps[j * 33 + ty + 24];
                float v0 = kvs[j * 65 + tx + 0];
                float v1 = kvs[j * 65 + tx + 16];
                float v2 = kvs[j * 65 + tx + 32];
                float v3 = kvs[j * 65 + tx + 48];
                o0_0 += p0 * v0; o0_1 += p0 * v1; o0_2 += p0 * v2; o0_3 += p0 * v3;
                o1_0 += p1 * v0; o1_1 += p1 * v1; o1_2 += p1 * v2; o1_3 += p1 * v3;
                o2_0 += p2 * v0; o2_1 += p2 * v1; o2_2 += p2 * v2; o2_3 += p2 * v3;
                o3_0 += p3 * v0; o3_1 += p3 * v1; o3_2 += p3 * v2; o3_3 += p3 * v3;
            }
        }
        storeRow(out, lse, ms[ty + 0], ls[ty + 0], o0_0, o0_1, o0_2, o0_3, ty + 0, tx, t0, rowBase, bh, seqLen, nq, h, d);
        storeRow(out, lse, ms[ty + 8], ls[ty + 8], o1_0, o1_1, o1_2, o1_3, ty + 8, tx, t0, rowBase, bh, seqLen, nq, h, d);
        storeRow(out, lse, ms[ty + 16], ls[ty + 16], o2_0, o2_1, o2_2, o2_3, ty + 16, tx, t0, rowBase, bh, seqLen, nq, h, d);
        storeRow(out, lse, ms[ty + 24], ls[ty + 24], o3_0, o3_1, o3_2, o3_3, ty + 24, tx, t0, rowBase, bh, seqLen, nq, h, d);
    }


    /**
     * What {@link #forwardTiled} gives a key a query does not see: a finite stand-in for minus
     * infinity, since TornadoVM builds OpenCL kernels with {@code -cl-fast-relaxed-math}, which
     * lets the compiler assume there are no infinities; {@code exp(MASKED - m)} is 0.
     */
    private static final float MASKED = -1e30f;

    /** A scaled score, or {@link #MASKED} for a key after the query or past the sequence. */
    private static float maskedScore(float s, int t, int u, int seqLen) {
        float v = s;
        if (u > t || u >= seqLen) {
            v = MASKED;
        }
        return v;
    }

    /**
     * Stores tile row i's four outputs of this work-item (columns tx + 16 c below d), and its lse
     * once, from the row's running max m and denominator l. They come as values: given the local
     * arrays themselves, TornadoVM 5.2 addressed them here with a global array's byte offsets
     * (wrong results on PoCL; WorkGroups' row reductions pass theirs without trouble, and the
     * difference was not found), so no helper of these kernels takes a local array.
     */
    private static void storeRow(float[] out, float[] lse, float m, float l, float o0, float o1, float o2, float o3,
                                 int i, int tx, int t0, int rowBase, int bh, int seqLen, int nq, int h, int d) {
        int t = t0 + i;
        if (t < seqLen) {
            float inv = 1f / l;
            int oo = (rowBase + t) * nq * d + h * d;
            if (tx < d) {
                out[oo + tx] = o0 * inv;
            }
            if (tx + 16 < d) {
                out[oo + tx + 16] = o1 * inv;
            }
            if (tx + 32 < d) {
                out[oo + tx + 32] = o2 * inv;
            }
            if (tx + 48 < d) {
                out[oo + tx + 48] = o3 * inv;
            }
            if (tx == 0) {
                lse[bh * seqLen + t] = m + (float) Math.log(l);
            }
        }
    }

    /**
     * The backward's query side as one KernelContext kernel (GPUs; head dim at most
     * {@link #FLASH_D}; {@link #backwardQuery}'s outputs): a work-group takes {@link #FLASH_Q}
     * queries of one (batch, head), computes their {@code delta = dout . out}, keeps Q and dout in
     * local memory and walks the keys they see in blocks of 32 (keys and values staged in local
     * memory): S and dP in registers (4 x 2 per work-item), {@code dS = P (dP - delta)} into local
     * memory, and {@code dQ += dS K} in registers (4 x 4 per work-item), scaled once at the end.
     * Grid as {@link #forwardTiled}'s. Like the GEMM tiles, the three kernels are written out per
     * register (one variable per accumulator), so that the accumulators stay in registers.
     */
    public static void backwardQueryTiled(KernelContext ctx, float[] dout, float[] qkv, float[] out, float[] lse,
                                          float[] delta, float[] dqkv, int seqLen, int nq, int nkv, int d) {
        // Local memory, rows padded by one word: Q, dout, K and V k-major ([e][i], [e][j]), dS
        // key-major ([j][i]); 32 queries, blocks of 32 keys, head dim up to 64.
        float[] qs = ctx.allocateFloatLocalArray(64 * 33);
        float[] gs = ctx.allocateFloatLocalArray(64 * 33);
        float[] ks = ctx.allocateFloatLocalArray(64 * 33);
        float[] vs = ctx.allocateFloatLocalArray(64 * 33);
        float[] dss = ctx.allocateFloatLocalArray(32 * 33);
        float[] lq = ctx.allocateFloatLocalArray(32);
        float[] dl = ctx.allocateFloatLocalArray(32);
        int tx = ctx.localIdx;
        int ty = ctx.localIdy;
        int lid = ty * 16 + tx;
        int t0 = ctx.groupIdx * 32;
        int bh = ctx.groupIdy;
        int b = bh / nq;
        int h = bh - b * nq;
        int g = h / (nq / nkv);
        int stride = (nq + 2 * nkv) * d;
        int ldo = nq * d;
        float scale = 1f / (float) Math.sqrt(d);
        int rowBase = b * seqLen;
        for (int x = lid; x < 32 * 64; x += 128) {
            int i = x / 64;
            int e = x - i * 64;
            float q = 0f;
            float go = 0f;
            if (t0 + i < seqLen && e < d) {
                q = qkv[(rowBase + t0 + i) * stride + h * d + e];
                go = dout[(rowBase + t0 + i) * ldo + h * d + e];
            }
            qs[e * 33 + i] = q;
            gs[e * 33 + i] = go;
        }
        if (lid < 32) {
            float s = 0f;
            float m = 0f;
            if (t0 + lid < seqLen) {
                int go = (rowBase + t0 + lid) * ldo + h * d;
                for (int e = 0; e < d; e++) {
                    s += dout[go + e] * out[go + e];
                }
                m = lse[bh * seqLen + t0 + lid];
                delta[bh * seqLen + t0 + lid] = s;
            }
            dl[lid] = s;
            lq[lid] = m;
        }
        float q0_0 = 0f; float q0_1 = 0f; float q0_2 = 0f; float q0_3 = 0f;
        float q1_0 = 0f; float q1_1 = 0f; float q1_2 = 0f; float q1_3 = 0f;
        float q2_0 = 0f; float q2_1 = 0f; float q2_2 = 0f; float q2_3 = 0f;
        float q3_0 = 0f; float q3_1 = 0f; float q3_2 = 0f; float q3_3 = 0f;
        int end = Math.min(seqLen, t0 + 32);
        for (int u0 = 0; u0 < end; u0 += 32) {
            ctx.localBarrier();
            for (int x = lid; x < 32 * 64; x += 128) {
                int j = x / 64;
                int e = x - j * 64;
                float k = 0f;
                float v = 0f;
                if (u0 + j < seqLen && e < d) {
                    k = qkv[(rowBase + u0 + j) * stride + (nq + g) * d + e];
                    v = qkv[(rowBase + u0 + j) * stride + (nq + nkv + g) * d + e];
                }
                ks[e * 33 + j] = k;
                vs[e * 33 + j] = v;
            }
            ctx.localBarrier();
            float s0_0 = 0f; float s0_1 = 0f;
            float s1_0 = 0f; float s1_1 = 0f;
            float s2_0 = 0f; float s2_1 = 0f;
            float s3_0 = 0f; float s3_1 = 0f;
            float p0_0 = 0f; float p0_1 = 0f;
            float p1_0 = 0f; float p1_1 = 0f;
            float p2_0 = 0f; float p2_1 = 0f;
            float p3_0 = 0f; float p3_1 = 0f;
            for (int e = 0; e < d; e++) {
                float a0 = qs[e * 33 + ty + 0];
                float g0 = gs[e * 33 + ty + 0];
                float a1 = qs[e * 33 + ty + 8];
                float g1 = gs[e * 33 + ty + 8];
                float a2 = qs[e * 33 + ty + 16];
                float g2 = gs[e * 33 + ty + 16];
                float a3 = qs[e * 33 + ty + 24];
                float g3 = gs[e * 33 + ty + 24];
                float k0 = ks[e * 33 + tx + 0];
                float v0 = vs[e * 33 + tx + 0];
                float k1 = ks[e * 33 + tx + 16];
                float v1 = vs[e * 33 + tx + 16];
                s0_0 += a0 * k0; s0_1 += a0 * k1; p0_0 += g0 * v0; p0_1 += g0 * v1;
                s1_0 += a1 * k0; s1_1 += a1 * k1; p1_0 += g1 * v0; p1_1 += g1 * v1;
                s2_0 += a2 * k0; s2_1 += a2 * k1; p2_0 += g2 * v0; p2_1 += g2 * v1;
                s3_0 += a3 * k0; s3_1 += a3 * k1; p3_0 += g3 * v0; p3_1 += g3 * v1;
            }
            float m0 = lq[ty + 0];
            float l0 = dl[ty + 0];
            float m1 = lq[ty + 8];
            float l1 = dl[ty + 8];
            float m2 = lq[ty + 16];
            float l2 = dl[ty + 16];
            float m3 = lq[ty + 24];
            float l3 = dl[ty + 24];
            dss[(tx + 0) * 33 + ty + 0] = gradScore(s0_0 * scale - m0, p0_0 - l0, t0 + ty + 0, u0 + tx + 0, seqLen);
            dss[(tx + 16) * 33 + ty + 0] = gradScore(s0_1 * scale - m0, p0_1 - l0, t0 + ty + 0, u0 + tx + 16, seqLen);
            dss[(tx + 0) * 33 + ty + 8] = gradScore(s1_0 * scale - m1, p1_0 - l1, t0 + ty + 8, u0 + tx + 0, seqLen);
            dss[(tx + 16) * 33 + ty + 8] = gradScore(s1_1 * scale - m1, p1_1 - l1, t0 + ty + 8, u0 + tx + 16, seqLen);
            dss[(tx + 0) * 33 + ty + 16] = gradScore(s2_0 * scale - m2, p2_0 - l2, t0 + ty + 16, u0 + tx + 0, seqLen);
            dss[(tx + 16) * 33 + ty + 16] = gradScore(s2_1 * scale - m2, p2_1 - l2, t0 + ty + 16, u0 + tx + 16, seqLen);
            dss[(tx + 0) * 33 + ty + 24] = gradScore(s3_0 * scale - m3, p3_0 - l3, t0 + ty + 24, u0 + tx + 0, seqLen);
            dss[(tx + 16) * 33 + ty + 24] = gradScore(s3_1 * scale - m3, p3_1 - l3, t0 + ty + 24, u0 + tx + 16, seqLen);
            ctx.localBarrier();
            for (int j = 0; j < 32; j++) {
                float a0 = dss[j * 33 + ty + 0];
                float a1 = dss[j * 33 + ty + 8];
                float a2 = dss[j * 33 + ty + 16];
                float a3 = dss[j * 33 + ty + 24];
                float k0 = ks[(tx + 0) * 33 + j];
                float k1 = ks[(tx + 16) * 33 + j];
                float k2 = ks[(tx + 32) * 33 + j];
                float k3 = ks[(tx + 48) * 33 + j];
                q0_0 += a0 * k0; q0_1 += a0 * k1; q0_2 += a0 * k2; q0_3 += a0 * k3;
                q1_0 += a1 * k0; q1_1 += a1 * k1; q1_2 += a1 * k2; q1_3 += a1 * k3;
                q2_0 += a2 * k0; q2_1 += a2 * k1; q2_2 += a2 * k2; q2_3 += a2 * k3;
                q3_0 += a3 * k0; q3_1 += a3 * k1; q3_2 += a3 * k2; q3_3 += a3 * k3;
            }
        }
        storeRows(dqkv, q0_0, q0_1, q0_2, q0_3, scale, t0 + ty + 0, tx, rowBase, seqLen, stride, h * d, d);
        storeRows(dqkv, q1_0, q1_1, q1_2, q1_3, scale, t0 + ty + 8, tx, rowBase, seqLen, stride, h * d, d);
        storeRows(dqkv, q2_0, q2_1, q2_2, q2_3, scale, t0 + ty + 16, tx, rowBase, seqLen, stride, h * d, d);
        storeRows(dqkv, q3_0, q3_1, q3_2, q3_3, scale, t0 + ty + 24, tx, rowBase, seqLen, stride, h * d, d);
    }

    /**
     * The backward's key/value side as one KernelContext kernel (GPUs; head dim at most
     * {@link #FLASH_D}; {@link #backwardKeyValue}'s outputs, after {@link #backwardQueryTiled}
     * wrote delta): a work-group takes 32 keys and their values of one (batch, key/value head),
     * keeps them in local memory and walks, for each query head of the group, the queries that see
     * them in blocks of 32 (queries and dout staged in local memory): {@code S^T} and
     * {@code dP^T} in registers (4 x 2 per work-item), P^T and {@code dS^T = P^T (dP^T - delta)}
     * into local memory, {@code dV += P^T dout} and {@code dK += dS^T Q} in registers (4 x 4 each
     * per work-item), dK scaled once at the end. Grid:
     * {@code (ceil(T / FLASH_B) FLASH_TX, B nkv FLASH_TY)}, work-groups {@code (FLASH_TX, FLASH_TY)}.
     */
    public static void backwardKeyValueTiled(KernelContext ctx, float[] dout, float[] qkv, float[] lse, float[] delta,
                                             float[] dqkv, int seqLen, int nq, int nkv, int d) {
        // Local memory, rows padded by one word: K, V, Q and dout k-major ([e][j], [e][i]), P^T
        // and dS^T query-major ([i][j]); blocks of 32 keys and 32 queries, head dim up to 64.
        float[] ks = ctx.allocateFloatLocalArray(64 * 33);
        float[] vs = ctx.allocateFloatLocalArray(64 * 33);
        float[] qs = ctx.allocateFloatLocalArray(64 * 33);
        float[] gs = ctx.allocateFloatLocalArray(64 * 33);
        float[] pts = ctx.allocateFloatLocalArray(32 * 33);
        float[] dts = ctx.allocateFloatLocalArray(32 * 33);
        float[] lq = ctx.allocateFloatLocalArray(32);
        float[] dl = ctx.allocateFloatLocalArray(32);
        int tx = ctx.localIdx;
        int ty = ctx.localIdy;
        int lid = ty * 16 + tx;
        int u0 = ctx.groupIdx * 32;
        int bg = ctx.groupIdy;
        int b = bg / nkv;
        int g = bg - b * nkv;
        int group = nq / nkv;
        int stride = (nq + 2 * nkv) * d;
        int ldo = nq * d;
        float scale = 1f / (float) Math.sqrt(d);
        int rowBase = b * seqLen;
        for (int x = lid; x < 32 * 64; x += 128) {
            int j = x / 64;
            int e = x - j * 64;
            float k = 0f;
            float v = 0f;
            if (u0 + j < seqLen && e < d) {
                k = qkv[(rowBase + u0 + j) * stride + (nq + g) * d + e];
                v = qkv[(rowBase + u0 + j) * stride + (nq + nkv + g) * d + e];
            }
            ks[e * 33 + j] = k;
            vs[e * 33 + j] = v;
        }
        float dk0_0 = 0f; float dk0_1 = 0f; float dk0_2 = 0f; float dk0_3 = 0f;
        float dk1_0 = 0f; float dk1_1 = 0f; float dk1_2 = 0f; float dk1_3 = 0f;
        float dk2_0 = 0f; float dk2_1 = 0f; float dk2_2 = 0f; float dk2_3 = 0f;
        float dk3_0 = 0f; float dk3_1 = 0f; float dk3_2 = 0f; float dk3_3 = 0f;
        float dv0_0 = 0f; float dv0_1 = 0f; float dv0_2 = 0f; float dv0_3 = 0f;
        float dv1_0 = 0f; float dv1_1 = 0f; float dv1_2 = 0f; float dv1_3 = 0f;
        float dv2_0 = 0f; float dv2_1 = 0f; float dv2_2 = 0f; float dv2_3 = 0f;
        float dv3_0 = 0f; float dv3_1 = 0f; float dv3_2 = 0f; float dv3_3 = 0f;
        for (int hh = 0; hh < group; hh++) {
            int h = g * group + hh;
            int bh = b * nq + h;
            for (int t0 = u0; t0 < seqLen; t0 += 32) {
                ctx.localBarrier();
                for (int x = lid; x < 32 * 64; x += 128) {
                    int i = x / 64;
                    int e = x - i * 64;
                    float q = 0f;
                    float go = 0f;
                    if (t0 + i < seqLen && e < d) {
                        q = qkv[(rowBase + t0 + i) * stride + h * d + e];
                        go = dout[(rowBase + t0 + i) * ldo + h * d + e];
                    }
                    qs[e * 33 + i] = q;
                    gs[e * 33 + i] = go;
                }
                if (lid < 32) {
                    float m = 0f;
                    float s = 0f;
                    if (t0 + lid < seqLen) {
                        m = lse[bh * seqLen + t0 + lid];
                        s = delta[bh * seqLen + t0 + lid];
                    }
                    lq[lid] = m;
                    dl[lid] = s;
                }
                ctx.localBarrier();
                float s0_0 = 0f; float s0_1 = 0f;
                float s1_0 = 0f; float s1_1 = 0f;
                float s2_0 = 0f; float s2_1 = 0f;
                float s3_0 = 0f; float s3_1 = 0f;
                float p0_0 = 0f; float p0_1 = 0f;
                float p1_0 = 0f; float p1_1 = 0f;
                float p2_0 = 0f; float p2_1 = 0f;
                float p3_0 = 0f; float p3_1 = 0f;
                for (int e = 0; e < d; e++) {
                    float a0 = ks[e * 33 + ty + 0];
                    float w0 = vs[e * 33 + ty + 0];
                    float a1 = ks[e * 33 + ty + 8];
                    float w1 = vs[e * 33 + ty + 8];
                    float a2 = ks[e * 33 + ty + 16];
                    float w2 = vs[e * 33 + ty + 16];
                    float a3 = ks[e * 33 + ty + 24];
                    float w3 = vs[e * 33 + ty + 24];
                    float q0 = qs[e * 33 + tx + 0];
                    float o0 = gs[e * 33 + tx + 0];
                    float q1 = qs[e * 33 + tx + 16];
                    float o1 = gs[e * 33 + tx + 16];
                    s0_0 += a0 * q0; s0_1 += a0 * q1; p0_0 += w0 * o0; p0_1 += w0 * o1;
                    s1_0 += a1 * q0; s1_1 += a1 * q1; p1_0 += w1 * o0; p1_1 += w1 * o1;
                    s2_0 += a2 * q0; s2_1 += a2 * q1; p2_0 += w2 * o0; p2_1 += w2 * o1;
                    s3_0 += a3 * q0; s3_1 += a3 * q1; p3_0 += w3 * o0; p3_1 += w3 * o1;
                }
                float m0 = lq[tx + 0];
                float l0 = dl[tx + 0];
                float m1 = lq[tx + 16];
                float l1 = dl[tx + 16];
                float e0_0 = probability(s0_0 * scale - m0, t0 + tx + 0, u0 + ty + 0, seqLen);
                pts[(tx + 0) * 33 + ty + 0] = e0_0;
                dts[(tx + 0) * 33 + ty + 0] = e0_0 * (p0_0 - l0);
                float e0_1 = probability(s0_1 * scale - m1, t0 + tx + 16, u0 + ty + 0, seqLen);
                pts[(tx + 16) * 33 + ty + 0] = e0_1;
                dts[(tx + 16) * 33 + ty + 0] = e0_1 * (p0_1 - l1);
                float e1_0 = probability(s1_0 * scale - m0, t0 + tx + 0, u0 + ty + 8, seqLen);
                pts[(tx + 0) * 33 + ty + 8] = e1_0;
                dts[(tx + 0) * 33 + ty + 8] = e1_0 * (p1_0 - l0);
                float e1_1 = probability(s1_1 * scale - m1, t0 + tx + 16, u0 + ty + 8, seqLen);
                pts[(tx + 16) * 33 + ty + 8] = e1_1;
                dts[(tx + 16) * 33 + ty + 8] = e1_1 * (p1_1 - l1);
                float e2_0 = probability(s2_0 * scale - m0, t0 + tx + 0, u0 + ty + 16, seqLen);
                pts[(tx + 0) * 33 + ty + 16] = e2_0;
                dts[(tx + 0) * 33 + ty + 16] = e2_0 * (p2_0 - l0);
                float e2_1 = probability(s2_1 * scale - m1, t0 + tx + 16, u0 + ty + 16, seqLen);
                pts[(tx + 16) * 33 + ty + 16] = e2_1;
                dts[(tx + 16) * 33 + ty + 16] = e2_1 * (p2_1 - l1);
                float e3_0 = probability(s3_0 * scale - m0, t0 + tx + 0, u0 + ty + 24, seqLen);
                pts[(tx + 0) * 33 + ty + 24] = e3_0;
                dts[(tx + 0) * 33 + ty + 24] = e3_0 * (p3_0 - l0);
                float e3_1 = probability(s3_1 * scale - m1, t0 + tx + 16, u0 + ty + 24, seqLen);
                pts[(tx + 16) * 33 + ty + 24] = e3_1;
                dts[(tx + 16) * 33 + ty + 24] = e3_1 * (p3_1 - l1);
                ctx.localBarrier();
                for (int i = 0; i < 32; i++) {
                    float a0 = pts[i * 33 + ty + 0];
                    float z0 = dts[i * 33 + ty + 0];
                    float a1 = pts[i * 33 + ty + 8];
                    float z1 = dts[i * 33 + ty + 8];
                    float a2 = pts[i * 33 + ty + 16];
                    float z2 = dts[i * 33 + ty + 16];
                    float a3 = pts[i * 33 + ty + 24];
                    float z3 = dts[i * 33 + ty + 24];
                    float o0 = gs[(tx + 0) * 33 + i];
                    float q0 = qs[(tx + 0) * 33 + i];
                    float o1 = gs[(tx + 16) * 33 + i];
                    float q1 = qs[(tx + 16) * 33 + i];
                    float o2 = gs[(tx + 32) * 33 + i];
                    float q2 = qs[(tx + 32) * 33 + i];
                    float o3 = gs[(tx + 48) * 33 + i];
                    float q3 = qs[(tx + 48) * 33 + i];
                    dv0_0 += a0 * o0; dv0_1 += a0 * o1; dv0_2 += a0 * o2; dv0_3 += a0 * o3;
                    dk0_0 += z0 * q0; dk0_1 += z0 * q1; dk0_2 += z0 * q2; dk0_3 += z0 * q3;
                    dv1_0 += a1 * o0; dv1_1 += a1 * o1; dv1_2 += a1 * o2; dv1_3 += a1 * o3;
                    dk1_0 += z1 * q0; dk1_1 += z1 * q1; dk1_2 += z1 * q2; dk1_3 += z1 * q3;
                    dv2_0 += a2 * o0; dv2_1 += a2 * o1; dv2_2 += a2 * o2; dv2_3 += a2 * o3;
                    dk2_0 += z2 * q0; dk2_1 += z2 * q1; dk2_2 += z2 * q2; dk2_3 += z2 * q3;
                    dv3_0 += a3 * o0; dv3_1 += a3 * o1; dv3_2 += a3 * o2; dv3_3 += a3 * o3;
                    dk3_0 += z3 * q0; dk3_1 += z3 * q1; dk3_2 += z3 * q2; dk3_3 += z3 * q3;
                }
            }
        }
        storeRows(dqkv, dk0_0, dk0_1, dk0_2, dk0_3, scale, u0 + ty + 0, tx, rowBase, seqLen, stride, (nq + g) * d, d);
        storeRows(dqkv, dv0_0, dv0_1, dv0_2, dv0_3, 1f, u0 + ty + 0, tx, rowBase, seqLen, stride, (nq + nkv + g) * d, d);
        storeRows(dqkv, dk1_0, dk1_1, dk1_2, dk1_3, scale, u0 + ty + 8, tx, rowBase, seqLen, stride, (nq + g) * d, d);
        storeRows(dqkv, dv1_0, dv1_1, dv1_2, dv1_3, 1f, u0 + ty + 8, tx, rowBase, seqLen, stride, (nq + nkv + g) * d, d);
        storeRows(dqkv, dk2_0, dk2_1, dk2_2, dk2_3, scale, u0 + ty + 16, tx, rowBase, seqLen, stride, (nq + g) * d, d);
        storeRows(dqkv, dv2_0, dv2_1, dv2_2, dv2_3, 1f, u0 + ty + 16, tx, rowBase, seqLen, stride, (nq + nkv + g) * d, d);
        storeRows(dqkv, dk3_0, dk3_1, dk3_2, dk3_3, scale, u0 + ty + 24, tx, rowBase, seqLen, stride, (nq + g) * d, d);
        storeRows(dqkv, dv3_0, dv3_1, dv3_2, dv3_3, 1f, u0 + ty + 24, tx, rowBase, seqLen, stride, (nq + nkv + g) * d, d);
    }


    /** {@code exp(x) dpd} for a key the query sees ({@code dS} of the query-side backward), else 0. */
    private static float gradScore(float x, float dpd, int t, int u, int seqLen) {
        float v = 0f;
        if (u <= t && u < seqLen) {
            v = (float) Math.exp(x) * dpd;
        }
        return v;
    }

    /** {@code exp(x)} for a key the query sees, both inside the sequence ({@code P}); else 0. */
    private static float probability(float x, int t, int u, int seqLen) {
        float v = 0f;
        if (u <= t && t < seqLen) {
            v = (float) Math.exp(x);
        }
        return v;
    }

    /** Stores a work-item's four values of row t (columns tx + 16 c below d, times s) at column base col of qkv's layout. */
    private static void storeRows(float[] dqkv, float v0, float v1, float v2, float v3, float s, int t, int tx, int rowBase,
                                  int seqLen, int stride, int col, int d) {
        if (t < seqLen) {
            int o = (rowBase + t) * stride + col;
            if (tx < d) {
                dqkv[o + tx] = v0 * s;
            }
            if (tx + 16 < d) {
                dqkv[o + tx + 16] = v1 * s;
            }
            if (tx + 32 < d) {
                dqkv[o + tx + 32] = v2 * s;
            }
            if (tx + 48 < d) {
                dqkv[o + tx + 48] = v3 * s;
            }
        }
    }

    // ---- CPU bodies: query tiles (forward) and key tiles (backward), streaming in blocks --------
    //
    // Forward: a query tile of about TILE rows walks the keys it can see in blocks of BLOCK;
    // backward: a key tile of about TILE keys walks the queries that see it in blocks of BLOCK.
    // The score block S = Q K^T and, in backward, dP = dout V^T stay in a per-thread scratch that
    // fits L2, and each block's products are register-blocked GEMMs over strided views of qkv
    // (Sgemm.gemmSerial; the tiles or heads run in parallel). Tile and block sizes depend on the
    // shape alone, blocks are summed in order and the group's heads in head order, so results do
    // not depend on the thread count.

    /** Queries (or keys) per tile, about: big enough for the GEMM micro-tiles, small enough to balance. */
    private static final int TILE = 96;
    /** Keys (or queries) per block of a tile's stream: a multiple of the 48-wide GEMM micro-tile. */
    private static final int BLOCK = 192;

    /** Rows per tile for a sequence: near-equal tiles of at most TILE rows, a multiple of 6. */
    static int tileRows(int seqLen) {
        int tiles = (seqLen + TILE - 1) / TILE;
        int rows = (seqLen + tiles - 1) / tiles;
        return (rows + 5) / 6 * 6;
    }

    /** The calling thread's scratch: two score blocks (S and dP) of at most TILE x BLOCK each. */
    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[2 * TILE * BLOCK]);
    /**
     * Each thread's running max, denominator and correction per query row, allocated once: small
     * arrays allocated per work item can share cache lines with what the other threads write
     * (see DotGemm's SUMS). The slack keeps the next object off their last line.
     */
    private static final ThreadLocal<float[][]> ROW_STATE = ThreadLocal.withInitial(
            () -> new float[][] {new float[TILE + 16], new float[TILE + 16], new float[TILE + 16]});

    /** The CPU body: {@link FusedAttention} where it fits the head dim and the machine, else {@link #forwardBlocked}. */
    public static void forwardCpu(float[] qkv, float[] out, float[] lse, int batch, int seqLen, int nq, int nkv, int d) {
        if (FusedAttention.fits(d)) {
            FusedAttention.forward(qkv, out, lse, batch, seqLen, nq, nkv, d);
        } else {
            forwardBlocked(qkv, out, lse, batch, seqLen, nq, nkv, d);
        }
    }

    /** Query tiles against blocks of keys through {@link Sgemm} and {@link SoftmaxRows}: any head dim, any vector length. */
    static void forwardBlocked(float[] qkv, float[] out, float[] lse, int batch, int seqLen, int nq, int nkv, int d) {
        int stride = (nq + 2 * nkv) * d;
        int group = nq / nkv;
        float scale = 1f / (float) Math.sqrt(d);
        int tq = tileRows(seqLen);
        int tiles = (seqLen + tq - 1) / tq;
        int heads = batch * nq;
        // The last query tiles are the most work (the most keys): hand them out first.
        Workers.pool().parallelFor(heads * tiles, 1, (from, to) -> {
            float[] sc = SCRATCH.get();
            float[][] state = ROW_STATE.get();
            float[] m = state[0];
            float[] l = state[1];
            float[] corr = state[2];
            for (int item = from; item < to; item++) {
                int tile = tiles - 1 - item / heads;
                int bh = item % heads;
                int b = bh / nq;
                int h = bh - b * nq;
                int g = h / group;
                int t0 = tile * tq;
                int rows = Math.min(seqLen, t0 + tq) - t0;
                int qOff = (b * seqLen + t0) * stride + h * d;
                int oOff = (b * seqLen + t0) * nq * d + h * d;
                java.util.Arrays.fill(m, Float.NEGATIVE_INFINITY);
                java.util.Arrays.fill(l, 0f);
                for (int u0 = 0; u0 < t0 + rows; u0 += BLOCK) {
                    int n = Math.min(t0 + rows, u0 + BLOCK) - u0;
                    int kvRow = (b * seqLen + u0) * stride;
                    Sgemm.gemmSerial(false, true, rows, n, d, qkv, qOff, stride, qkv, kvRow + (nq + g) * d, stride,
                            sc, 0, BLOCK, false);
                    SoftmaxRows.onlineBlock(sc, BLOCK, rows, t0, u0, n, scale, m, l, corr);
                    if (u0 > 0) {
                        for (int r = 0; r < rows; r++) SoftmaxRows.scale(out, oOff + r * nq * d, d, corr[r]);
                    }
                    // out = out corr + P V (the first block overwrites).
                    Sgemm.gemmSerial(false, false, rows, d, n, sc, 0, BLOCK, qkv, kvRow + (nq + nkv + g) * d, stride,
                            out, oOff, nq * d, u0 > 0);
                }
                for (int r = 0; r < rows; r++) {
                    SoftmaxRows.scale(out, oOff + r * nq * d, d, 1f / l[r]);
                    lse[bh * seqLen + t0 + r] = m[r] + (float) Math.log(l[r]);
                }
            }
        });
    }

    /** The calling thread's per-head dK and dV {@code [B, nq, T, 2d]}, before a group's heads are summed. */
    private static final Scratch HEAD_GRADS = new Scratch();

    /**
     * One pass per (batch, query head): delta, then for each key tile (in order) and each block
     * of the queries that see it, S and dP are recomputed once and feed all three products: dK
     * and dV of the tile (summed over blocks into the head's own rows of a scratch) and dQ of the
     * block (summed over key tiles in order; this head is its only writer). The group's heads
     * are then summed in head order into dK and dV (by the fused body itself where it works a
     * key/value head at a time, else in a second pass).
     */
    public static void backwardCpu(float[] dout, float[] qkv, float[] out, float[] lse, float[] delta, float[] dqkv,
                                   int batch, int seqLen, int nq, int nkv, int d) {
        float[] part = HEAD_GRADS.get(batch * nq * seqLen * 2 * d);
        if (FusedAttention.fits(d)) {
            if (FusedAttention.backwardHeads(dout, qkv, out, lse, delta, dqkv, part, batch, seqLen, nq, nkv, d)) return;
        } else {
            backwardHeadsBlocked(dout, qkv, out, lse, delta, dqkv, part, batch, seqLen, nq, nkv, d);
        }
        sumHeads(dqkv, part, batch, seqLen, nq, nkv, d);
    }

    /** {@link #backwardCpu} with the blocked body whatever the head dim (for tests of that body). */
    static void backwardBlocked(float[] dout, float[] qkv, float[] out, float[] lse, float[] delta, float[] dqkv,
                                int batch, int seqLen, int nq, int nkv, int d) {
        float[] part = HEAD_GRADS.get(batch * nq * seqLen * 2 * d);
        backwardHeadsBlocked(dout, qkv, out, lse, delta, dqkv, part, batch, seqLen, nq, nkv, d);
        sumHeads(dqkv, part, batch, seqLen, nq, nkv, d);
    }

    /** {@link #backwardCpu}'s work per head through {@link Sgemm} and {@link SoftmaxRows}: any head dim, any vector length. */
    static void backwardHeadsBlocked(float[] dout, float[] qkv, float[] out, float[] lse, float[] delta, float[] dqkv,
                                     float[] part, int batch, int seqLen, int nq, int nkv, int d) {
        int stride = (nq + 2 * nkv) * d;
        int group = nq / nkv;
        float scale = 1f / (float) Math.sqrt(d);
        int tq = tileRows(seqLen);
        int tiles = (seqLen + tq - 1) / tq;
        int heads = batch * nq;
        int d2 = 2 * d;
        Workers.pool().parallelFor(heads, 1, (from, to) -> {
            float[] sc = SCRATCH.get();
            int dpOff = TILE * BLOCK;
            for (int bh = from; bh < to; bh++) {
                int b = bh / nq;
                int h = bh - b * nq;
                int g = h / group;
                int rowBase = bh * seqLen;
                int qHead = b * seqLen * stride + h * d;
                int gHead = b * seqLen * nq * d + h * d;
                for (int t = 0; t < seqLen; t++) {
                    delta[rowBase + t] = Vec.dot(dout, gHead + t * nq * d, out, gHead + t * nq * d, d);
                }
                for (int tile = 0; tile < tiles; tile++) {
                    int u0 = tile * tq;
                    int keys = Math.min(seqLen, u0 + tq) - u0;
                    int kOff = (b * seqLen + u0) * stride + (nq + g) * d;
                    int vOff = kOff + nkv * d;
                    int pOff = (rowBase + u0) * d2;
                    for (int t0 = u0; t0 < seqLen; t0 += BLOCK) {
                        int rows = Math.min(seqLen, t0 + BLOCK) - t0;
                        int qOff = qHead + t0 * stride;
                        int gOff = gHead + t0 * nq * d;
                        // Blocks [rows = queries, keys], leading dimension TILE: S, then P and dS.
                        Sgemm.gemmSerial(false, true, rows, keys, d, qkv, qOff, stride, qkv, kOff, stride,
                                sc, 0, TILE, false);
                        Sgemm.gemmSerial(false, true, rows, keys, d, dout, gOff, nq * d, qkv, vOff, stride,
                                sc, dpOff, TILE, false);
                        SoftmaxRows.backwardBlock(sc, 0, dpOff, TILE, rows, t0, u0, keys, scale, lse, delta, rowBase + t0);
                        boolean more = t0 > u0;
                        Sgemm.gemmSerial(true, false, keys, d, rows, sc, dpOff, TILE, qkv, qOff, stride,
                                part, pOff, d2, more);
                        Sgemm.gemmSerial(true, false, keys, d, rows, sc, 0, TILE, dout, gOff, nq * d,
                                part, pOff + d, d2, more);
                        // Key tile 0 is seen by every query: it starts dQ.
                        Sgemm.gemmSerial(false, false, rows, d, keys, sc, dpOff, TILE, qkv, kOff, stride,
                                dqkv, qOff, stride, tile > 0);
                    }
                }
                for (int t = 0; t < seqLen; t++) SoftmaxRows.scale(dqkv, qHead + t * stride, d, scale);
            }
        });
    }

    /** dK = scale sum_h dK_h, dV = sum_h dV_h over the group's heads, in head order, per key row. */
    private static void sumHeads(float[] dqkv, float[] part, int batch, int seqLen, int nq, int nkv, int d) {
        int kvHeads = batch * nkv;
        Workers.pool().parallelFor(kvHeads * seqLen, (from, to) -> {
            for (int item = from; item < to; item++) {
                int bg = item / seqLen;
                int u = item - bg * seqLen;
                FusedAttention.sumGroup(dqkv, part, bg / nkv, bg % nkv, u, u + 1, seqLen, nq, nkv, d);
            }
        });
    }
}
