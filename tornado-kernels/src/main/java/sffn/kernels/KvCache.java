package sffn.kernels;

import jdk.incubator.vector.FloatVector;
import sffn.kernels.cpu.FusedAttention;
import sffn.kernels.cpu.Vec;
import sffn.kernels.cpu.Workers;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.annotations.Parallel;

/**
 * Decoding with a key/value cache. {@code qkv} holds the projections of n new tokens of each of
 * {@code batch} sequences ([batch*n, (nq + 2 nkv) d], row b*n + i is token i of sequence b),
 * all at positions {@code pos[0] + i}. The caches are [batch, nkv, maxLen, d], head-major: the
 * keys (and values) one head attends to lie contiguous, so that attention streams them rather
 * than reading d floats every nkv*d (with position-major rows, 2 threads read a 1000-token cache
 * of Transformer-s's shape at 23 GB/s, 58% of this machine's read bandwidth).
 *
 * <pre>
 *   append:    kcache[b, g, pos+i] = k of head g of row (b, i);  vcache likewise
 *   attention: out[(b,i), h] = sum_{u <= pos+i} softmax_u(q_h . kcache[b,g(h),u] / sqrt(d)) vcache[b,g(h),u]
 * </pre>
 * The position lives in a one-element array so that one compiled plan serves every step.
 *
 * <p>The caches are float32 or bfloat16 (the {@code Bf16} methods: half the bytes, which decoding
 * at long contexts streams once per token and layer). A bfloat16 append rounds the new keys and
 * values to nearest even and leaves the rounded values in {@code qkv} as well, so that attention
 * over the new rows reads the cache's values whichever body or path computes it.
 */
public final class KvCache {
    private KvCache() {
    }

    // ---- portable bodies -------------------------------------------------------------------

    public static void append(float[] qkv, float[] kcache, float[] vcache, int[] pos, int batch, int n, int maxLen,
                              int nq, int nkv, int d) {
        for (@Parallel int r = 0; r < batch * n; r++) {
            for (@Parallel int j = 0; j < nkv * d; j++) {
                int b = r / n;
                int i = r - b * n;
                int stride = (nq + 2 * nkv) * d;
                int g = j / d;
                int c = ((b * nkv + g) * maxLen + pos[0] + i) * d + j - g * d;
                kcache[c] = qkv[r * stride + nq * d + j];
                vcache[c] = qkv[r * stride + (nq + nkv) * d + j];
            }
        }
    }

    public static void attention(float[] qkv, float[] kcache, float[] vcache, float[] out, float[] scores, int[] pos,
                                 int batch, int n, int maxLen, int nq, int nkv, int d) {
        for (@Parallel int r = 0; r < batch * n; r++) {
            for (@Parallel int h = 0; h < nq; h++) {
                int b = r / n;
                int i = r - b * n;
                int g = h / (nq / nkv);
                int stride = (nq + 2 * nkv) * d;
                int last = pos[0] + i;
                float scale = 1f / (float) Math.sqrt(d);
                int sb = (r * nq + h) * maxLen;
                float max = Float.NEGATIVE_INFINITY;
                for (int u = 0; u <= last; u++) {
                    float s = 0f;
                    for (int e = 0; e < d; e++) {
                        s += qkv[r * stride + h * d + e] * kcache[((b * nkv + g) * maxLen + u) * d + e];
                    }
                    s = s * scale;
                    scores[sb + u] = s;
                    max = Math.max(max, s);
                }
                float sum = 0f;
                for (int u = 0; u <= last; u++) {
                    float p = (float) Math.exp(scores[sb + u] - max);
                    scores[sb + u] = p;
                    sum += p;
                }
                float inv = 1f / sum;
                for (int e = 0; e < d; e++) {
                    float acc = 0f;
                    for (int u = 0; u <= last; u++) {
                        acc += scores[sb + u] * vcache[((b * nkv + g) * maxLen + u) * d + e];
                    }
                    out[r * nq * d + h * d + e] = acc * inv;
                }
            }
        }
    }

    /** {@link #append} into bfloat16 caches ({@link Bf16#encode}), the rounded values back into {@code qkv}. */
    public static void appendBf16(float[] qkv, short[] kcache, short[] vcache, int[] pos, int batch, int n, int maxLen,
                                  int nq, int nkv, int d) {
        for (@Parallel int r = 0; r < batch * n; r++) {
            for (@Parallel int j = 0; j < nkv * d; j++) {
                int b = r / n;
                int i = r - b * n;
                int stride = (nq + 2 * nkv) * d;
                int g = j / d;
                int c = ((b * nkv + g) * maxLen + pos[0] + i) * d + j - g * d;
                int ko = r * stride + nq * d + j;
                int vo = r * stride + (nq + nkv) * d + j;
                short kb = Bf16.encode(qkv[ko]);
                short vb = Bf16.encode(qkv[vo]);
                kcache[c] = kb;
                vcache[c] = vb;
                qkv[ko] = Bf16.decode(kb);
                qkv[vo] = Bf16.decode(vb);
            }
        }
    }

    /** {@link #attention} over bfloat16 caches. */
    public static void attentionBf16(float[] qkv, short[] kcache, short[] vcache, float[] out, float[] scores, int[] pos,
                                     int batch, int n, int maxLen, int nq, int nkv, int d) {
        for (@Parallel int r = 0; r < batch * n; r++) {
            for (@Parallel int h = 0; h < nq; h++) {
                int b = r / n;
                int i = r - b * n;
                int g = h / (nq / nkv);
                int stride = (nq + 2 * nkv) * d;
                int last = pos[0] + i;
                float scale = 1f / (float) Math.sqrt(d);
                int sb = (r * nq + h) * maxLen;
                float max = Float.NEGATIVE_INFINITY;
                for (int u = 0; u <= last; u++) {
                    float s = 0f;
                    for (int e = 0; e < d; e++) {
                        s += qkv[r * stride + h * d + e] * Bf16.decode(kcache[((b * nkv + g) * maxLen + u) * d + e]);
                    }
                    s = s * scale;
                    scores[sb + u] = s;
                    max = Math.max(max, s);
                }
                float sum = 0f;
                for (int u = 0; u <= last; u++) {
                    float p = (float) Math.exp(scores[sb + u] - max);
                    scores[sb + u] = p;
                    sum += p;
                }
                float inv = 1f / sum;
                for (int e = 0; e < d; e++) {
                    float acc = 0f;
                    for (int u = 0; u <= last; u++) {
                        acc += scores[sb + u] * Bf16.decode(vcache[((b * nkv + g) * maxLen + u) * d + e]);
                    }
                    out[r * nq * d + h * d + e] = acc * inv;
                }
            }
        }
    }

    /**
     * {@link #attention} as one KernelContext kernel (GPUs): a work-group of {@link WorkGroups#ROW}
     * work-items per (row, query head) splits the cache length among its items (key u to item
     * u mod ROW): scores into the scratch row, the max and the denominator reduced in local memory,
     * then {@code out = P V / sum} with each item one column of the head (64 at a time) over every
     * other key, the two halves summed in local memory. Grid {@code batch n nq ROW}, work-groups
     * {@code ROW}.
     */
    public static void attentionRows(KernelContext ctx, float[] qkv, float[] kcache, float[] vcache, float[] out,
                                     float[] scores, int[] pos, int n, int maxLen, int nq, int nkv, int d) {
        float[] part = ctx.allocateFloatLocalArray(WorkGroups.ROW);
        int l = ctx.localIdx;
        int item = ctx.groupIdx;
        int r = item / nq;
        int h = item - r * nq;
        int b = r / n;
        int i = r - b * n;
        int g = h / (nq / nkv);
        int stride = (nq + 2 * nkv) * d;
        int last = pos[0] + i;
        float scale = 1f / (float) Math.sqrt(d);
        int sb = item * maxLen;
        int kb = (b * nkv + g) * maxLen;
        int qo = r * stride + h * d;
        // A finite stand-in for minus infinity (TornadoVM's OpenCL flags allow assuming no infinities).
        float max = -1e30f;
        for (int u = l; u <= last; u += WorkGroups.ROW) {
            float s = 0f;
            for (int e = 0; e < d; e++) {
                s += qkv[qo + e] * kcache[(kb + u) * d + e];
            }
            s = s * scale;
            scores[sb + u] = s;
            max = Math.max(max, s);
        }
        max = WorkGroups.maxRow(ctx, part, max);
        float sum = 0f;
        for (int u = l; u <= last; u += WorkGroups.ROW) {
            float p = (float) Math.exp(scores[sb + u] - max);
            scores[sb + u] = p;
            sum += p;
        }
        sum = WorkGroups.sumRow(ctx, part, sum);
        // The probabilities other items wrote must be visible before the values pass reads them.
        ctx.globalBarrier();
        float inv = 1f / sum;
        int half = l / 64;
        int c = l - half * 64;
        for (int e0 = 0; e0 < d; e0 += 64) {
            int e = e0 + c;
            float acc = 0f;
            if (e < d) {
                for (int u = half; u <= last; u += 2) {
                    acc += scores[sb + u] * vcache[(kb + u) * d + e];
                }
            }
            part[l] = acc;
            ctx.localBarrier();
            if (half == 0 && e < d) {
                out[r * nq * d + h * d + e] = (part[l] + part[l + 64]) * inv;
            }
            ctx.localBarrier();
        }
    }

    /** {@link #attentionRows} over bfloat16 caches. */
    public static void attentionRowsBf16(KernelContext ctx, float[] qkv, short[] kcache, short[] vcache, float[] out,
                                         float[] scores, int[] pos, int n, int maxLen, int nq, int nkv, int d) {
        float[] part = ctx.allocateFloatLocalArray(WorkGroups.ROW);
        int l = ctx.localIdx;
        int item = ctx.groupIdx;
        int r = item / nq;
        int h = item - r * nq;
        int b = r / n;
        int i = r - b * n;
        int g = h / (nq / nkv);
        int stride = (nq + 2 * nkv) * d;
        int last = pos[0] + i;
        float scale = 1f / (float) Math.sqrt(d);
        int sb = item * maxLen;
        int kb = (b * nkv + g) * maxLen;
        int qo = r * stride + h * d;
        float max = -1e30f;
        for (int u = l; u <= last; u += WorkGroups.ROW) {
            float s = 0f;
            for (int e = 0; e < d; e++) {
                s += qkv[qo + e] * Bf16.decode(kcache[(kb + u) * d + e]);
            }
            s = s * scale;
            scores[sb + u] = s;
            max = Math.max(max, s);
        }
        max = WorkGroups.maxRow(ctx, part, max);
        float sum = 0f;
        for (int u = l; u <= last; u += WorkGroups.ROW) {
            float p = (float) Math.exp(scores[sb + u] - max);
            scores[sb + u] = p;
            sum += p;
        }
        sum = WorkGroups.sumRow(ctx, part, sum);
        ctx.globalBarrier();
        float inv = 1f / sum;
        int half = l / 64;
        int c = l - half * 64;
        for (int e0 = 0; e0 < d; e0 += 64) {
            int e = e0 + c;
            float acc = 0f;
            if (e < d) {
                for (int u = half; u <= last; u += 2) {
                    acc += scores[sb + u] * Bf16.decode(vcache[(kb + u) * d + e]);
                }
            }
            part[l] = acc;
            ctx.localBarrier();
            if (half == 0 && e < d) {
                out[r * nq * d + h * d + e] = (part[l] + part[l + 64]) * inv;
            }
            ctx.localBarrier();
        }
    }

    // ---- CPU bodies ------------------------------------------------------------------------

    /**
     * {@code s[so + u] = exp(s[so + u] - max)} for u < n, vector by vector ({@link Vec#exp} gives
     * the scalar's bits), and their sum, added in order of u.
     */
    private static float expMinus(float[] s, int so, int n, float max) {
        FloatVector vmax = FloatVector.broadcast(Vec.S, max);
        int u = 0;
        for (; u <= n - Vec.L; u += Vec.L) Vec.exp(FloatVector.fromArray(Vec.S, s, so + u).sub(vmax)).intoArray(s, so + u);
        for (; u < n; u++) s[so + u] = Vec.exp(s[so + u] - max);
        float sum = 0f;
        for (u = 0; u < n; u++) sum += s[so + u];
        return sum;
    }

    /** L values of a float32 ({@code h} null) or bfloat16 cache from {@code o}. */
    private static FloatVector load(float[] v, short[] h, int o) {
        return h == null ? FloatVector.fromArray(Vec.S, v, o) : Vec.bf16(h, o);
    }

    private static float at(float[] v, short[] h, int o) {
        return h == null ? v[o] : Bf16.toFloat(h[o]);
    }

    /**
     * {@code out[oo + e] = sum_u p[po + u] v[vo + u * ld + e]} for e < d, u in order, the values
     * from {@code v} or, where it is not null, from the bfloat16 {@code h}: each block of up to 4
     * vectors of {@code out} stays in registers over every u (the products and their order those
     * of {@link Vec#axpy} onto zeros).
     */
    private static void weightedValues(float[] p, int po, int n, float[] v, short[] h, int vo, int ld, float[] out, int oo,
                                       int d) {
        int whole = d - d % Vec.L;
        int e = 0;
        for (; e <= whole - 4 * Vec.L; e += 4 * Vec.L) {
            FloatVector a0 = FloatVector.zero(Vec.S), a1 = a0, a2 = a0, a3 = a0;
            for (int u = 0; u < n; u++) {
                FloatVector pu = FloatVector.broadcast(Vec.S, p[po + u]);
                int o = vo + u * ld + e;
                a0 = load(v, h, o).fma(pu, a0);
                a1 = load(v, h, o + Vec.L).fma(pu, a1);
                a2 = load(v, h, o + 2 * Vec.L).fma(pu, a2);
                a3 = load(v, h, o + 3 * Vec.L).fma(pu, a3);
            }
            a0.intoArray(out, oo + e);
            a1.intoArray(out, oo + e + Vec.L);
            a2.intoArray(out, oo + e + 2 * Vec.L);
            a3.intoArray(out, oo + e + 3 * Vec.L);
        }
        for (; e < whole; e += Vec.L) {
            FloatVector a0 = FloatVector.zero(Vec.S);
            for (int u = 0; u < n; u++) {
                a0 = load(v, h, vo + u * ld + e).fma(FloatVector.broadcast(Vec.S, p[po + u]), a0);
            }
            a0.intoArray(out, oo + e);
        }
        for (; e < d; e++) {
            float acc = 0f;
            for (int u = 0; u < n; u++) acc = Math.fma(p[po + u], at(v, h, vo + u * ld + e), acc);
            out[oo + e] = acc;
        }
    }

    public static void appendCpu(float[] qkv, float[] kcache, float[] vcache, int[] pos, int batch, int n, int maxLen,
                                 int nq, int nkv, int d) {
        int stride = (nq + 2 * nkv) * d;
        for (int r = 0; r < batch * n; r++) {
            int b = r / n;
            int at = pos[0] + r - b * n;
            for (int g = 0; g < nkv; g++) {
                int c = ((b * nkv + g) * maxLen + at) * d;
                System.arraycopy(qkv, r * stride + (nq + g) * d, kcache, c, d);
                System.arraycopy(qkv, r * stride + (nq + nkv + g) * d, vcache, c, d);
            }
        }
    }

    /** {@link #appendBf16} on the CPU: the bits of {@link Bf16#fromFloat}. */
    public static void appendBf16Cpu(float[] qkv, short[] kcache, short[] vcache, int[] pos, int batch, int n, int maxLen,
                                     int nq, int nkv, int d) {
        int stride = (nq + 2 * nkv) * d;
        for (int r = 0; r < batch * n; r++) {
            int b = r / n;
            int at = pos[0] + r - b * n;
            for (int g = 0; g < nkv; g++) {
                int c = ((b * nkv + g) * maxLen + at) * d;
                int ko = r * stride + (nq + g) * d;
                int vo = r * stride + (nq + nkv + g) * d;
                for (int e = 0; e < d; e++) {
                    short kb = Bf16.fromFloat(qkv[ko + e]);
                    short vb = Bf16.fromFloat(qkv[vo + e]);
                    kcache[c + e] = kb;
                    vcache[c + e] = vb;
                    qkv[ko + e] = Bf16.toFloat(kb);
                    qkv[vo + e] = Bf16.toFloat(vb);
                }
            }
        }
    }

    /** {@link #attentionCpu} over bfloat16 caches (a prefill's fused path reads the rounded keys and values in {@code qkv}). */
    public static void attentionBf16Cpu(float[] qkv, short[] kcache, short[] vcache, float[] out, float[] scores, int[] pos,
                                        int batch, int n, int maxLen, int nq, int nkv, int d) {
        attend(qkv, null, null, kcache, vcache, out, scores, pos, batch, n, maxLen, nq, nkv, d);
    }

    /**
     * The attention of {@code n} new rows per sequence over the cache (which holds their keys and
     * values already, at positions {@code pos[0] ..}). A prefill into an empty cache is plain
     * causal self-attention over the rows' own keys and values, which {@code qkv} holds too: it
     * goes to the fused training body ({@link FusedAttention#forward}, its log-sum-exp into
     * {@code scores}). On this project's 2-core VM, 12 heads of 64, one layer, compiled: 87, 113
     * and 146 GFLOP/s at 128, 512 and 1000 rows, against 32, 39 and 30 a row and key at a time.
     * Transformer-s's {@code generate --interactive} prefilled a prompt of 854 tokens at 1,067-1,074
     * tokens/s from the second prompt on, against 763-798; the first prompt runs before the JIT
     * has compiled the fused body (310-312 either way).
     */
    public static void attentionCpu(float[] qkv, float[] kcache, float[] vcache, float[] out, float[] scores, int[] pos,
                                    int batch, int n, int maxLen, int nq, int nkv, int d) {
        attend(qkv, kcache, vcache, null, null, out, scores, pos, batch, n, maxLen, nq, nkv, d);
    }

    /** The fused prefill or the row path, over float32 ({@code kh}, {@code vh} null) or bfloat16 ({@code kf}, {@code vf} null) caches. */
    private static void attend(float[] qkv, float[] kf, float[] vf, short[] kh, short[] vh, float[] out, float[] scores, int[] pos,
                               int batch, int n, int maxLen, int nq, int nkv, int d) {
        if (pos[0] == 0 && n > 1 && FusedAttention.fits(d)) {
            FusedAttention.forward(qkv, out, scores, batch, n, nq, nkv, d);
        } else {
            attentionRows(qkv, kf, vf, kh, vh, out, scores, pos, batch, n, maxLen, nq, nkv, d);
        }
    }

    /**
     * {@link #attentionCpu} a row and head at a time: a dot product per cached key, a softmax, a
     * weighted sum of values; the caches float32 ({@code kh}, {@code vh} null) or bfloat16
     * ({@code kf}, {@code vf} null).
     */
    private static void attentionRows(float[] qkv, float[] kf, float[] vf, short[] kh, short[] vh, float[] out, float[] scores,
                                      int[] pos, int batch, int n, int maxLen, int nq, int nkv, int d) {
        int stride = (nq + 2 * nkv) * d;
        int group = nq / nkv;
        float scale = 1f / (float) Math.sqrt(d);
        int p0 = pos[0];
        // Work: two multiply-adds per cached position and head dimension (scores, then values).
        // Decoding (one new token per sequence: every head the same work) gives each thread one
        // contiguous run of heads, so that each streams its part of the cache in order: handed out
        // one at a time, the two threads' reads interleave and streamed the cache 1.4x slower
        // (Transformer-s's 12 heads at 96 cached tokens, cache out of the caches: 29 against
        // 40 us on this project's 2-core VM). Prefill rows grow with their position: one at a time.
        int rows = batch * n * nq;
        long work = 2L * batch * n * nq * (p0 + n) * d;
        Workers.Range body = (from, to) -> {
            for (int idx = from; idx < to; idx++) {
                int r = idx / nq;
                int h = idx - r * nq;
                int b = r / n;
                int i = r - b * n;
                int g = h / group;
                int last = p0 + i;
                int sb = idx * maxLen;
                int qo = r * stride + h * d;
                int head = (b * nkv + g) * maxLen * d;
                float max = Float.NEGATIVE_INFINITY;
                for (int u = 0; u <= last; u++) {
                    float s = (kh == null ? Vec.dot(qkv, qo, kf, head + u * d, d) : Vec.dot(qkv, qo, kh, head + u * d, d)) * scale;
                    scores[sb + u] = s;
                    max = Math.max(max, s);
                }
                float sum = expMinus(scores, sb, last + 1, max);
                int oo = r * nq * d + h * d;
                weightedValues(scores, sb, last + 1, vf, vh, head, d, out, oo, d);
                float inv = 1f / sum;
                for (int e = 0; e < d; e++) out[oo + e] *= inv;
            }
        };
        if (n == 1) {
            Workers.pool().parallelRuns(rows, work, body);
        } else {
            Workers.pool().parallelFor(rows, 1, work, body);
        }
    }
}
