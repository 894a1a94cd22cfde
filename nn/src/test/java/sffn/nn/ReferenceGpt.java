package sffn.nn;

import java.util.HashMap;
import java.util.Map;
import sffn.nn.config.Activation;
import sffn.nn.config.FfnType;
import sffn.nn.config.MethodConfig;
import sffn.nn.config.ModelConfig;
import sffn.nn.config.Norm;
import sffn.nn.config.PositionEmbedding;

/**
 * The model's mean loss in float64, written independently of the kernels and plans, straight
 * from the equations (per token, per head, per element): the oracle of the whole-model gradient
 * check. Parameters are looked up by checkpoint name.
 */
final class ReferenceGpt {
    final ModelConfig cfg;
    final MethodConfig method;
    final Map<String, double[]> p = new HashMap<>();
    /** Guide weight a, and which guided linears run their guide (by name prefix). */
    double alpha;
    final Map<String, Boolean> guideOn = new HashMap<>();

    ReferenceGpt(Gpt model) {
        this.cfg = model.config;
        this.method = model.method;
        for (Parameter q : model.parameters()) {
            double[] d = new double[q.size()];
            for (int i = 0; i < d.length; i++) d[i] = q.value.data[i];
            p.put(q.name, d);
        }
    }

    double[] w(String name) {
        double[] v = p.get(name);
        if (v == null) throw new IllegalStateException("no parameter " + name);
        return v;
    }

    double loss(int[] tokens, int[] targets, int batch, int seqLen) {
        int c = cfg.hiddenDim();
        double total = 0;
        int counted = 0;
        for (int b = 0; b < batch; b++) {
            double[][] x = new double[seqLen][c];
            for (int t = 0; t < seqLen; t++) {
                int tok = tokens[b * seqLen + t];
                for (int j = 0; j < c; j++) {
                    x[t][j] = w("wte.weight")[tok * c + j];
                    if (cfg.posEmb() == PositionEmbedding.ABSOLUTE) x[t][j] += w("wpe.weight")[t * c + j];
                }
            }
            for (int l = 0; l < cfg.numLayers(); l++) x = block(x, l);
            double[] head = cfg.tieWordEmbeddings() ? w("wte.weight") : w("lm_head.weight");
            for (int t = 0; t < seqLen; t++) {
                double[] xf = norm(x[t], "ln_f");
                int v = cfg.vocabSize();
                double[] logits = new double[v];
                double max = Double.NEGATIVE_INFINITY;
                for (int k = 0; k < v; k++) {
                    double s = 0;
                    for (int j = 0; j < c; j++) s += xf[j] * head[k * c + j];
                    logits[k] = s;
                    max = Math.max(max, s);
                }
                double z = 0;
                for (int k = 0; k < v; k++) z += Math.exp(logits[k] - max);
                int target = targets[b * seqLen + t];
                if (target >= 0) {
                    total += Math.log(z) + max - logits[target];
                    counted++;
                }
            }
        }
        return total / counted;
    }

    private double[][] block(double[][] x, int l) {
        String pre = "layers." + l;
        int seqLen = x.length;
        int c = cfg.hiddenDim();
        int nq = cfg.numQHeads();
        int nkv = cfg.numKvHeads();
        int d = cfg.headDim();
        double[][] q = new double[seqLen][];
        double[][] out = new double[seqLen][];
        for (int t = 0; t < seqLen; t++) {
            q[t] = linear(pre + ".attn.qkv", norm(x[t], pre + ".ln1"), c, cfg.qkvDim(), FfnType.LINEAR);
            if (cfg.posEmb() == PositionEmbedding.ROPE) {
                for (int h = 0; h < nq + nkv; h++) rope(q[t], h * d, t, d);
            }
        }
        double[][] mid = new double[seqLen][c];
        for (int t = 0; t < seqLen; t++) {
            double[] att = new double[nq * d];
            for (int h = 0; h < nq; h++) {
                int g = h / (nq / nkv);
                double[] s = new double[t + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int u = 0; u <= t; u++) {
                    double dot = 0;
                    for (int e = 0; e < d; e++) dot += q[t][h * d + e] * q[u][(nq + g) * d + e];
                    s[u] = dot / Math.sqrt(d);
                    max = Math.max(max, s[u]);
                }
                double z = 0;
                for (int u = 0; u <= t; u++) z += Math.exp(s[u] - max);
                for (int u = 0; u <= t; u++) {
                    double pr = Math.exp(s[u] - max) / z;
                    for (int e = 0; e < d; e++) att[h * d + e] += pr * q[u][(nq + nkv + g) * d + e];
                }
            }
            double[] o = linear(pre + ".attn.o", att, cfg.attnDim(), c, FfnType.LINEAR);
            for (int j = 0; j < c; j++) mid[t][j] = x[t][j] + o[j];
        }
        FfnType ffn = method.structuredAt(l) ? method.name() : FfnType.LINEAR;
        for (int t = 0; t < seqLen; t++) {
            double[] f1 = linear(pre + ".mlp.fc1", norm(mid[t], pre + ".ln2"), c, cfg.fc1OutDim(), ffn);
            int f = cfg.ffnDim();
            double[] a = new double[f];
            for (int j = 0; j < f; j++) {
                if (cfg.act() == Activation.SWIGLU) {
                    double u = f1[j];
                    a[j] = u / (1 + Math.exp(-u)) * f1[f + j];
                } else {
                    double u = f1[j];
                    a[j] = 0.5 * u * (1 + Math.tanh(0.7978845608 * (u + 0.044715 * u * u * u)));
                }
            }
            double[] f2 = linear(pre + ".mlp.fc2", a, f, c, ffn);
            out[t] = new double[c];
            for (int j = 0; j < c; j++) out[t][j] = mid[t][j] + f2[j];
        }
        return out;
    }

    private void rope(double[] v, int off, int pos, int d) {
        int half = d / 2;
        for (int i = 0; i < half; i++) {
            double ang = pos * Math.pow(cfg.rotaryBase(), -2.0 * i / d);
            double x1 = v[off + i];
            double x2 = v[off + half + i];
            v[off + i] = x1 * Math.cos(ang) - x2 * Math.sin(ang);
            v[off + half + i] = x2 * Math.cos(ang) + x1 * Math.sin(ang);
        }
    }

    private double[] norm(double[] x, String pre) {
        int c = x.length;
        double[] wt = w(pre + ".weight");
        double[] y = new double[c];
        if (cfg.ln() == Norm.LAYERNORM) {
            double m = 0;
            for (double v : x) m += v;
            m /= c;
            double var = 0;
            for (double v : x) var += (v - m) * (v - m);
            var /= c;
            double r = 1 / Math.sqrt(var + 1e-5);
            double[] bs = w(pre + ".bias");
            for (int j = 0; j < c; j++) y[j] = (x[j] - m) * r * wt[j] + bs[j];
        } else {
            double ss = 0;
            for (double v : x) ss += v * v;
            double r = 1 / Math.sqrt(ss / c + 1e-5);
            for (int j = 0; j < c; j++) y[j] = x[j] * r * wt[j];
        }
        return y;
    }

    /** The linear {@code pre} applied to one token: structure, guide blend, bias. */
    private double[] linear(String pre, double[] x, int in, int out, FfnType type) {
        double[] y = switch (type) {
            case LINEAR -> dense(w(pre + ".weight"), x, in, out);
            case LOWRANK -> dense(w(pre + ".lr2"), dense(w(pre + ".lr1"), x, in, method.rank()), method.rank(), out);
            case BLOCKDENSE -> dense(w(pre + ".lr"), blockDiag(w(pre + ".blkdiag"), x, method.nblocks(),
                    method.rank() / method.nblocks(), in / method.nblocks()), method.rank(), out);
            case BLOCKSHUFFLE -> monarch(pre, x, in, out);
        };
        if (p.containsKey(pre + ".guide") && guideOn.getOrDefault(pre, true)) {
            double[] g = dense(w(pre + ".guide"), x, in, out);
            for (int j = 0; j < out; j++) y[j] = alpha * g[j] + (1 - alpha) * y[j];
        }
        if (p.containsKey(pre + ".bias")) {
            double[] bias = w(pre + ".bias");
            for (int j = 0; j < out; j++) y[j] += bias[j];
        }
        return y;
    }

    private static double[] dense(double[] wt, double[] x, int in, int out) {
        double[] y = new double[out];
        for (int o = 0; o < out; o++) {
            double s = 0;
            for (int i = 0; i < in; i++) s += wt[o * in + i] * x[i];
            y[o] = s;
        }
        return y;
    }

    private static double[] blockDiag(double[] wt, double[] x, int nb, int q, int pp) {
        double[] y = new double[nb * q];
        for (int b = 0; b < nb; b++) {
            for (int i = 0; i < q; i++) {
                double s = 0;
                for (int j = 0; j < pp; j++) s += wt[(b * q + i) * pp + j] * x[b * pp + j];
                y[b * q + i] = s;
            }
        }
        return y;
    }

    /** The reference code's einsum form: kqp,bkp->bkq; (k q) as (r l) -> (l r); lsr,blr->bsl. */
    private double[] monarch(String pre, double[] x, int in, int out) {
        int nb = method.nblocks();
        int k = nb;
        int pp = in / nb;
        int q = in < out ? in / nb : out / nb;
        int l = nb;
        int s = out / nb;
        int r = k * q / l;
        double[] out1 = blockDiag(w(pre + ".blkdiag1"), x, k, q, pp);
        double[][] z = new double[l][r];
        for (int f = 0; f < k * q; f++) z[f % l][f / l] = out1[f];
        double[] w2 = w(pre + ".blkdiag2");
        double[] y = new double[s * l];
        for (int ll = 0; ll < l; ll++) {
            for (int ss = 0; ss < s; ss++) {
                double acc = 0;
                for (int rr = 0; rr < r; rr++) acc += w2[(ll * s + ss) * r + rr] * z[ll][rr];
                y[ss * l + ll] = acc;
            }
        }
        return y;
    }
}
