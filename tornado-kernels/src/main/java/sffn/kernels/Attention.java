package sffn.kernels;

import sffn.kernels.cpu.Vec;
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

    // ---- CPU bodies ------------------------------------------------------------------------

    public static void forwardCpu(float[] qkv, float[] out, float[] probs, int batch, int seqLen, int nq, int nkv, int d) {
        int stride = (nq + 2 * nkv) * d;
        int group = nq / nkv;
        float scale = 1f / (float) Math.sqrt(d);
        Workers.pool().parallelFor(batch * nq * seqLen, 16, (from, to) -> {
            for (int idx = from; idx < to; idx++) {
                int bh = idx / seqLen;
                int t = idx - bh * seqLen;
                int b = bh / nq;
                int h = bh - b * nq;
                int g = h / group;
                int qo = (b * seqLen + t) * stride + h * d;
                int pb = (bh * seqLen + t) * seqLen;
                float max = Float.NEGATIVE_INFINITY;
                for (int u = 0; u <= t; u++) {
                    float s = Vec.dot(qkv, qo, qkv, (b * seqLen + u) * stride + (nq + g) * d, d) * scale;
                    probs[pb + u] = s;
                    max = Math.max(max, s);
                }
                float sum = 0f;
                for (int u = 0; u <= t; u++) {
                    float p = Vec.exp(probs[pb + u] - max);
                    probs[pb + u] = p;
                    sum += p;
                }
                float inv = 1f / sum;
                for (int u = 0; u <= t; u++) probs[pb + u] *= inv;
                java.util.Arrays.fill(probs, pb + t + 1, pb + seqLen, 0f);
                int oo = (b * seqLen + t) * nq * d + h * d;
                java.util.Arrays.fill(out, oo, oo + d, 0f);
                for (int u = 0; u <= t; u++) {
                    Vec.axpy(probs[pb + u], qkv, (b * seqLen + u) * stride + (nq + nkv + g) * d, out, oo, d);
                }
            }
        });
    }

    public static void backwardCpu(float[] dout, float[] qkv, float[] probs, float[] dscores, float[] dqkv,
                                   int batch, int seqLen, int nq, int nkv, int d) {
        int stride = (nq + 2 * nkv) * d;
        int group = nq / nkv;
        float scale = 1f / (float) Math.sqrt(d);
        // dS and dQ, one query row at a time.
        Workers.pool().parallelFor(batch * nq * seqLen, 16, (from, to) -> {
            for (int idx = from; idx < to; idx++) {
                int bh = idx / seqLen;
                int t = idx - bh * seqLen;
                int b = bh / nq;
                int h = bh - b * nq;
                int g = h / group;
                int go = (b * seqLen + t) * nq * d + h * d;
                int pb = (bh * seqLen + t) * seqLen;
                float dot = 0f;
                for (int u = 0; u <= t; u++) {
                    float dp = Vec.dot(dout, go, qkv, (b * seqLen + u) * stride + (nq + nkv + g) * d, d);
                    dscores[pb + u] = dp;
                    dot += dp * probs[pb + u];
                }
                for (int u = 0; u <= t; u++) dscores[pb + u] = probs[pb + u] * (dscores[pb + u] - dot);
                java.util.Arrays.fill(dscores, pb + t + 1, pb + seqLen, 0f);
                int qo = (b * seqLen + t) * stride + h * d;
                java.util.Arrays.fill(dqkv, qo, qo + d, 0f);
                for (int u = 0; u <= t; u++) {
                    Vec.axpy(dscores[pb + u] * scale, qkv, (b * seqLen + u) * stride + (nq + g) * d, dqkv, qo, d);
                }
            }
        });
        // dK and dV, one key row at a time, summing the group's query heads in order.
        Workers.pool().parallelFor(batch * nkv * seqLen, 16, (from, to) -> {
            for (int idx = from; idx < to; idx++) {
                int bg = idx / seqLen;
                int u = idx - bg * seqLen;
                int b = bg / nkv;
                int g = bg - b * nkv;
                int ko = (b * seqLen + u) * stride + (nq + g) * d;
                int vo = (b * seqLen + u) * stride + (nq + nkv + g) * d;
                java.util.Arrays.fill(dqkv, ko, ko + d, 0f);
                java.util.Arrays.fill(dqkv, vo, vo + d, 0f);
                for (int hh = 0; hh < group; hh++) {
                    int h = g * group + hh;
                    for (int t = u; t < seqLen; t++) {
                        int pi = ((b * nq + h) * seqLen + t) * seqLen + u;
                        int ro = b * seqLen + t;
                        Vec.axpy(dscores[pi] * scale, qkv, ro * stride + h * d, dqkv, ko, d);
                        Vec.axpy(probs[pi], dout, ro * nq * d + h * d, dqkv, vo, d);
                    }
                }
            }
        });
    }
}
