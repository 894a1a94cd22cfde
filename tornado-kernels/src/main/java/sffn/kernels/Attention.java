package sffn.kernels;

import sffn.kernels.cpu.Sgemm;
import sffn.kernels.cpu.SoftmaxRows;
import sffn.kernels.cpu.Workers;
import uk.ac.manchester.tornado.api.annotations.Parallel;

/**
 * Causal self-attention with grouped-query heads over the fused projection
 * {@code qkv [B*T, (nq + 2 nkv) d]} (per row: nq query heads, then nkv key heads, then nkv
 * value heads). Query head h reads key/value head {@code h / (nq / nkv)}; scores are scaled by
 * {@code 1/sqrt(d)}. Output {@code out [B*T, nq d]}. Forward saves the probabilities
 * {@code probs [B, nq, T, T]} (zero above the diagonal) for backward.
 *
 * <p>Backward, with {@code dP = dout . V^T} and {@code dS = P * (dP - rowsum(P * dP))}:
 * {@code dQ = scale dS K}, {@code dK = scale dS^T Q}, {@code dV = P^T dout}, summed over the
 * query heads of a group. It runs as three kernels (scores, queries, keys and values) so that
 * every output element has one writer; {@code dscores} has the shape of probs.
 */
public final class Attention {
    private Attention() {
    }

    // ---- portable bodies -------------------------------------------------------------------

    public static void forward(float[] qkv, float[] out, float[] probs, int batch, int seqLen, int nq, int nkv, int d) {
        for (@Parallel int bh = 0; bh < batch * nq; bh++) {
            for (@Parallel int t = 0; t < seqLen; t++) {
                int b = bh / nq;
                int h = bh - b * nq;
                int g = h / (nq / nkv);
                int stride = (nq + 2 * nkv) * d;
                float scale = 1f / (float) Math.sqrt(d);
                int qo = (b * seqLen + t) * stride + h * d;
                int pb = (bh * seqLen + t) * seqLen;
                float max = Float.NEGATIVE_INFINITY;
                for (int u = 0; u <= t; u++) {
                    int ko = (b * seqLen + u) * stride + (nq + g) * d;
                    float s = 0f;
                    for (int e = 0; e < d; e++) {
                        s += qkv[qo + e] * qkv[ko + e];
                    }
                    s = s * scale;
                    probs[pb + u] = s;
                    max = Math.max(max, s);
                }
                float sum = 0f;
                for (int u = 0; u <= t; u++) {
                    float p = (float) Math.exp(probs[pb + u] - max);
                    probs[pb + u] = p;
                    sum += p;
                }
                float inv = 1f / sum;
                for (int u = 0; u < seqLen; u++) {
                    if (u <= t) {
                        probs[pb + u] = probs[pb + u] * inv;
                    } else {
                        probs[pb + u] = 0f;
                    }
                }
                int oo = (b * seqLen + t) * nq * d + h * d;
                for (int e = 0; e < d; e++) {
                    float acc = 0f;
                    for (int u = 0; u <= t; u++) {
                        acc += probs[pb + u] * qkv[(b * seqLen + u) * stride + (nq + nkv + g) * d + e];
                    }
                    out[oo + e] = acc;
                }
            }
        }
    }

    public static void backwardScores(float[] dout, float[] qkv, float[] probs, float[] dscores,
                                      int batch, int seqLen, int nq, int nkv, int d) {
        for (@Parallel int bh = 0; bh < batch * nq; bh++) {
            for (@Parallel int t = 0; t < seqLen; t++) {
                int b = bh / nq;
                int h = bh - b * nq;
                int g = h / (nq / nkv);
                int stride = (nq + 2 * nkv) * d;
                int go = (b * seqLen + t) * nq * d + h * d;
                int pb = (bh * seqLen + t) * seqLen;
                float dot = 0f;
                for (int u = 0; u <= t; u++) {
                    int vo = (b * seqLen + u) * stride + (nq + nkv + g) * d;
                    float dp = 0f;
                    for (int e = 0; e < d; e++) {
                        dp += dout[go + e] * qkv[vo + e];
                    }
                    dscores[pb + u] = dp;
                    dot += dp * probs[pb + u];
                }
                for (int u = 0; u < seqLen; u++) {
                    if (u <= t) {
                        dscores[pb + u] = probs[pb + u] * (dscores[pb + u] - dot);
                    } else {
                        dscores[pb + u] = 0f;
                    }
                }
            }
        }
    }

    public static void backwardQuery(float[] dscores, float[] qkv, float[] dqkv,
                                     int batch, int seqLen, int nq, int nkv, int d) {
        for (@Parallel int bh = 0; bh < batch * nq; bh++) {
            for (@Parallel int t = 0; t < seqLen; t++) {
                int b = bh / nq;
                int h = bh - b * nq;
                int g = h / (nq / nkv);
                int stride = (nq + 2 * nkv) * d;
                float scale = 1f / (float) Math.sqrt(d);
                int pb = (bh * seqLen + t) * seqLen;
                int qo = (b * seqLen + t) * stride + h * d;
                for (int e = 0; e < d; e++) {
                    float acc = 0f;
                    for (int u = 0; u <= t; u++) {
                        acc += dscores[pb + u] * qkv[(b * seqLen + u) * stride + (nq + g) * d + e];
                    }
                    dqkv[qo + e] = acc * scale;
                }
            }
        }
    }

    public static void backwardKeyValue(float[] dout, float[] qkv, float[] probs, float[] dscores, float[] dqkv,
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
                    float dk = 0f;
                    float dv = 0f;
                    for (int hh = 0; hh < group; hh++) {
                        int h = g * group + hh;
                        for (int t = u; t < seqLen; t++) {
                            int pi = ((b * nq + h) * seqLen + t) * seqLen + u;
                            int ro = (b * seqLen + t);
                            dk += dscores[pi] * qkv[ro * stride + h * d + e];
                            dv += probs[pi] * dout[ro * nq * d + h * d + e];
                        }
                    }
                    dqkv[ko + e] = dk * scale;
                    dqkv[vo + e] = dv;
                }
            }
        }
    }

    // ---- CPU bodies: tiles of queries (forward, dS, dQ) and of keys (dK, dV) as GEMMs ----------
    //
    // Each tile is a few GEMMs over strided views of qkv (Sgemm.gemmSerial; the tiles run in
    // parallel), skipping the causal upper triangle at tile granularity: a query tile [t0, t1)
    // needs keys [0, t1), a key tile [u0, u1) only queries [u0, T). Softmax rows use Vec's exp
    // and fixed-order lane sums, which give the same bits in every JIT tier. Tile sizes depend
    // on the shape alone, and the group's heads are summed into dK and dV in head order, so
    // results do not depend on the thread count.

    /** Queries (or keys) per tile, about: big enough for the GEMM micro-tiles, small enough to balance. */
    private static final int TILE = 96;

    /** Rows per tile for a sequence: near-equal tiles of at most about TILE rows, a multiple of 6. */
    static int tileRows(int seqLen) {
        int tiles = (seqLen + TILE - 1) / TILE;
        int rows = (seqLen + tiles - 1) / tiles;
        return (rows + 5) / 6 * 6;
    }

    /** The calling thread's buffer for keys (forward) or values (backward) packed once per head. */
    private static final ThreadLocal<float[]> PACKED = ThreadLocal.withInitial(() -> new float[0]);

    private static float[] packed(int size) {
        float[] p = PACKED.get();
        if (p.length < size) {
            p = new float[size];
            PACKED.set(p);
        }
        return p;
    }

    /**
     * Packs the transposed key (or value) rows of every (batch, kv head) once, as the B operand of
     * the score (or dP) GEMMs of all its query tiles and all query heads of its group.
     */
    private static float[] packTransposed(float[] qkv, int batch, int seqLen, int nkv, int d, int stride, int headOffset) {
        int size = Sgemm.packedBSize(d, seqLen);
        float[] packs = packed(batch * nkv * size);
        Workers.pool().parallelFor(batch * nkv, 1, (from, to) -> {
            for (int bg = from; bg < to; bg++) {
                int b = bg / nkv;
                int g = bg - b * nkv;
                Sgemm.packB(true, d, seqLen, qkv, b * seqLen * stride + headOffset + g * d, stride, packs, bg * size);
            }
        });
        return packs;
    }

    public static void forwardCpu(float[] qkv, float[] out, float[] probs, int batch, int seqLen, int nq, int nkv, int d) {
        int stride = (nq + 2 * nkv) * d;
        int group = nq / nkv;
        float scale = 1f / (float) Math.sqrt(d);
        int tq = tileRows(seqLen);
        int tiles = (seqLen + tq - 1) / tq;
        int heads = batch * nq;
        int size = Sgemm.packedBSize(d, seqLen);
        float[] keys = packTransposed(qkv, batch, seqLen, nkv, d, stride, nq * d);
        // The last query tiles are the most work (the most keys): hand them out first.
        Workers.pool().parallelFor(heads * tiles, 1, (from, to) -> {
            for (int item = from; item < to; item++) {
                int tile = tiles - 1 - item / heads;
                int bh = item % heads;
                int b = bh / nq;
                int h = bh - b * nq;
                int g = h / group;
                int t0 = tile * tq;
                int t1 = Math.min(seqLen, t0 + tq);
                int pOff = (bh * seqLen + t0) * seqLen;
                // Raw scores q.k for keys [0, t1); the softmax below scales them and zeroes u > t.
                Sgemm.gemmSerialPackedB(false, t1 - t0, t1, d, qkv, (b * seqLen + t0) * stride + h * d, stride,
                        keys, (b * nkv + g) * size, seqLen, probs, pOff, seqLen, false);
                SoftmaxRows.causalForward(probs, pOff, seqLen, t1 - t0, t0, seqLen, scale);
                Sgemm.gemmSerial(false, false, t1 - t0, d, t1, probs, pOff, seqLen,
                        qkv, b * seqLen * stride + (nq + nkv + g) * d, stride,
                        out, (b * seqLen + t0) * nq * d + h * d, nq * d, false);
            }
        });
    }

    public static void backwardCpu(float[] dout, float[] qkv, float[] probs, float[] dscores, float[] dqkv,
                                   int batch, int seqLen, int nq, int nkv, int d) {
        int stride = (nq + 2 * nkv) * d;
        int group = nq / nkv;
        float scale = 1f / (float) Math.sqrt(d);
        int tq = tileRows(seqLen);
        int tiles = (seqLen + tq - 1) / tq;
        int heads = batch * nq;
        int size = Sgemm.packedBSize(d, seqLen);
        float[] values = packTransposed(qkv, batch, seqLen, nkv, d, stride, (nq + nkv) * d);
        // dP = dout V^T, dS = P * (dP - rowsum(P * dP)), dQ = scale dS K: per query tile, last first.
        Workers.pool().parallelFor(heads * tiles, 1, (from, to) -> {
            for (int item = from; item < to; item++) {
                int tile = tiles - 1 - item / heads;
                int bh = item % heads;
                int b = bh / nq;
                int h = bh - b * nq;
                int g = h / group;
                int t0 = tile * tq;
                int t1 = Math.min(seqLen, t0 + tq);
                int pOff = (bh * seqLen + t0) * seqLen;
                int qOff = (b * seqLen + t0) * stride + h * d;
                Sgemm.gemmSerialPackedB(false, t1 - t0, t1, d, dout, (b * seqLen + t0) * nq * d + h * d, nq * d,
                        values, (b * nkv + g) * size, seqLen, dscores, pOff, seqLen, false);
                SoftmaxRows.causalBackward(probs, dscores, pOff, seqLen, t1 - t0, t0, seqLen);
                Sgemm.gemmSerial(false, false, t1 - t0, d, t1, dscores, pOff, seqLen,
                        qkv, b * seqLen * stride + (nq + g) * d, stride, dqkv, qOff, stride, false);
                for (int t = t0; t < t1; t++) SoftmaxRows.scale(dqkv, qOff + (t - t0) * stride, d, scale);
            }
        });
        // dK = scale sum_h dS_h^T Q_h, dV = sum_h P_h^T dout_h over queries t >= u0, per key tile,
        // the group's heads accumulated in head order; the first key tiles are the most work.
        int kvHeads = batch * nkv;
        Workers.pool().parallelFor(kvHeads * tiles, 1, (from, to) -> {
            for (int item = from; item < to; item++) {
                int tile = item / kvHeads;
                int bg = item % kvHeads;
                int b = bg / nkv;
                int g = bg - b * nkv;
                int u0 = tile * tq;
                int u1 = Math.min(seqLen, u0 + tq);
                int kOut = (b * seqLen + u0) * stride + (nq + g) * d;
                int vOut = (b * seqLen + u0) * stride + (nq + nkv + g) * d;
                for (int hh = 0; hh < group; hh++) {
                    int h = g * group + hh;
                    // Element [t = u0, u = u0] of this head's [T, T] matrices; rows t >= u0 only.
                    int pAt = ((b * nq + h) * seqLen + u0) * seqLen + u0;
                    Sgemm.gemmSerial(true, false, u1 - u0, d, seqLen - u0, dscores, pAt, seqLen,
                            qkv, (b * seqLen + u0) * stride + h * d, stride, dqkv, kOut, stride, hh > 0);
                    Sgemm.gemmSerial(true, false, u1 - u0, d, seqLen - u0, probs, pAt, seqLen,
                            dout, (b * seqLen + u0) * nq * d + h * d, nq * d, dqkv, vOut, stride, hh > 0);
                }
                for (int u = u0; u < u1; u++) SoftmaxRows.scale(dqkv, kOut + (u - u0) * stride, d, scale);
            }
        });
    }
}
