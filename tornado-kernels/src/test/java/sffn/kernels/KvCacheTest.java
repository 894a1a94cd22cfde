package sffn.kernels;

import static sffn.kernels.Check.assertBitsEqual;
import static sffn.kernels.Check.assertBodiesMatch;
import static sffn.kernels.Check.poisoned;
import static sffn.kernels.Check.randn;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import sffn.kernels.Check.Expected;

/** The decode kernels: cache append, attention over the cache, and the position-from-buffer variants. */
class KvCacheTest {
    /** As for training attention: scores over d <= 136, softmax and sums over <= 37 cached positions. */
    static final double TOL = 1e-5;

    @ParameterizedTest
    @CsvSource({"1, 1, 0, 4, 4, 8, 5", "2, 3, 4, 3, 1, 8, 9", "3, 1, 17, 6, 2, 24, 19", "2, 5, 31, 4, 4, 40, 37", "1, 2, 20, 3, 1, 72, 23", "2, 1, 30, 2, 2, 136, 33",
            "2, 7, 0, 4, 2, 16, 9", "1, 37, 0, 3, 1, 64, 40", "1, 101, 0, 2, 2, 32, 104", "1, 5, 0, 2, 1, 24, 8"})
    void attentionOverTheCacheMatchesFloat64(int batch, int n, int pos, int nq, int nkv, int d, int maxLen) {
        SplittableRandom r = Check.rng("kv attention", batch, n, pos, nq, nkv, d, maxLen);
        int stride = (nq + 2 * nkv) * d;
        int kv = nkv * d;
        float[] qkv = randn(r, batch * n * stride);
        float[] kcache = randn(r, batch * maxLen * kv);
        float[] vcache = randn(r, batch * maxLen * kv);
        int[] p = {pos};
        // Append first (both bodies), then attend: positions pos .. pos+n-1 now hold this call's keys and values.
        float[] kc = kcache.clone();
        float[] vc = vcache.clone();
        KvCache.appendCpu(qkv, kc, vc, p, batch, n, maxLen, nq, nkv, d);
        float[] kp = kcache.clone();
        float[] vp = vcache.clone();
        KvCache.append(qkv, kp, vp, p, batch, n, maxLen, nq, nkv, d);
        assertBitsEqual("appended keys, CPU vs portable", kp, kc);
        assertBitsEqual("appended values, CPU vs portable", vp, vc);
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < kv; j++) {
                    int c = ((b * nkv + j / d) * maxLen + pos + i) * d + j % d;
                    int row = (b * n + i) * stride;
                    if (kc[c] != qkv[row + nq * d + j] || vc[c] != qkv[row + (nq + nkv) * d + j]) {
                        throw new AssertionError("cache slot (" + b + ", " + (pos + i) + ", " + j + ") not the new k/v");
                    }
                }
            }
        }
        float[] outCpu = poisoned(batch * n * nq * d);
        float[] outPortable = poisoned(batch * n * nq * d);
        KvCache.attentionCpu(qkv, kc, vc, outCpu, poisoned(batch * n * nq * maxLen), p, batch, n, maxLen, nq, nkv, d);
        KvCache.attention(qkv, kc, vc, outPortable, poisoned(batch * n * nq * maxLen), p, batch, n, maxLen, nq, nkv, d);
        assertBodiesMatch("attention over the cache", outCpu, outPortable,
                expected(qkv, kc, vc, batch, n, pos, nq, nkv, d, maxLen), TOL);
    }

    /**
     * The same with bfloat16 caches: both bodies append the same bits (the new keys and values
     * rounded to nearest even, as {@link Bf16#fromFloat}) and leave the rounded values in qkv;
     * attention over the cache (the prefill cases through the fused path, which reads qkv) matches
     * float64 attention over the cache's values.
     */
    @ParameterizedTest
    @CsvSource({"1, 1, 0, 4, 4, 8, 5", "2, 3, 4, 3, 1, 8, 9", "3, 1, 17, 6, 2, 24, 19", "2, 5, 31, 4, 4, 40, 37", "1, 2, 20, 3, 1, 72, 23", "2, 1, 30, 2, 2, 136, 33",
            "2, 7, 0, 4, 2, 16, 9", "1, 37, 0, 3, 1, 64, 40", "1, 101, 0, 2, 2, 32, 104", "1, 5, 0, 2, 1, 24, 8", "1, 1, 63, 4, 2, 64, 70"})
    void attentionOverABf16CacheMatchesFloat64(int batch, int n, int pos, int nq, int nkv, int d, int maxLen) {
        SplittableRandom r = Check.rng("bf16 kv attention", batch, n, pos, nq, nkv, d, maxLen);
        int stride = (nq + 2 * nkv) * d;
        int kv = nkv * d;
        float[] qkv = randn(r, batch * n * stride);
        short[] kcache = bf16(randn(r, batch * maxLen * kv));
        short[] vcache = bf16(randn(r, batch * maxLen * kv));
        int[] p = {pos};
        float[] qkvCpu = qkv.clone();
        short[] kc = kcache.clone();
        short[] vc = vcache.clone();
        KvCache.appendBf16Cpu(qkvCpu, kc, vc, p, batch, n, maxLen, nq, nkv, d);
        float[] qkvPortable = qkv.clone();
        short[] kp = kcache.clone();
        short[] vp = vcache.clone();
        KvCache.appendBf16(qkvPortable, kp, vp, p, batch, n, maxLen, nq, nkv, d);
        assertBitsEqual("appended keys, CPU vs portable", widen(kp), widen(kc));
        assertBitsEqual("appended values, CPU vs portable", widen(vp), widen(vc));
        assertBitsEqual("rounded qkv, CPU vs portable", qkvPortable, qkvCpu);
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < n; i++) {
                int row = (b * n + i) * stride;
                for (int j = 0; j < kv; j++) {
                    int c = ((b * nkv + j / d) * maxLen + pos + i) * d + j % d;
                    int ko = row + nq * d + j;
                    int vo = row + (nq + nkv) * d + j;
                    if (kc[c] != Bf16.fromFloat(qkv[ko]) || vc[c] != Bf16.fromFloat(qkv[vo])) {
                        throw new AssertionError("cache slot (" + b + ", " + (pos + i) + ", " + j + ") not the new k/v rounded");
                    }
                    if (qkvCpu[ko] != Bf16.toFloat(kc[c]) || qkvCpu[vo] != Bf16.toFloat(vc[c])) {
                        throw new AssertionError("qkv (" + b + ", " + i + ", " + j + ") does not hold the rounded k/v");
                    }
                }
                for (int j = 0; j < nq * d; j++) {
                    if (Float.floatToRawIntBits(qkvCpu[row + j]) != Float.floatToRawIntBits(qkv[row + j])) {
                        throw new AssertionError("query (" + b + ", " + i + ", " + j + ") changed by the append");
                    }
                }
            }
        }
        float[] outCpu = poisoned(batch * n * nq * d);
        float[] outPortable = poisoned(batch * n * nq * d);
        KvCache.attentionBf16Cpu(qkvCpu, kc, vc, outCpu, poisoned(batch * n * nq * maxLen), p, batch, n, maxLen, nq, nkv, d);
        KvCache.attentionBf16(qkvPortable, kp, vp, outPortable, poisoned(batch * n * nq * maxLen), p, batch, n, maxLen, nq, nkv, d);
        assertBodiesMatch("attention over a bf16 cache", outCpu, outPortable,
                expected(qkvCpu, widen(kc), widen(vc), batch, n, pos, nq, nkv, d, maxLen), TOL);
    }

    private static short[] bf16(float[] x) {
        short[] b = new short[x.length];
        Bf16.compress(x, b);
        return b;
    }

    private static float[] widen(short[] b) {
        float[] x = new float[b.length];
        Bf16.widen(b, x);
        return x;
    }

    /** Float64 attention of the new rows over the caches' keys and values, with the usual error scale. */
    private static Expected expected(float[] qkv, float[] kc, float[] vc, int batch, int n, int pos, int nq, int nkv, int d,
                                     int maxLen) {
        int stride = (nq + 2 * nkv) * d;
        double[] ref = new double[batch * n * nq * d];
        double[] scale = new double[ref.length];
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < n; i++) {
                for (int h = 0; h < nq; h++) {
                    int g = h / (nq / nkv);
                    int last = pos + i;
                    double[] s = new double[last + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    double spread = 0;
                    for (int u = 0; u <= last; u++) {
                        double dot = 0;
                        double mag = 0;
                        for (int e = 0; e < d; e++) {
                            double a = qkv[(b * n + i) * stride + h * d + e] * (double) kc[((b * nkv + g) * maxLen + u) * d + e];
                            dot += a;
                            mag += Math.abs(a);
                        }
                        s[u] = dot / Math.sqrt(d);
                        spread = Math.max(spread, mag / Math.sqrt(d));
                        max = Math.max(max, s[u]);
                    }
                    double z = 0;
                    for (int u = 0; u <= last; u++) z += Math.exp(s[u] - max);
                    for (int e = 0; e < d; e++) {
                        double acc = 0;
                        double mag = 0;
                        for (int u = 0; u <= last; u++) {
                            double w = Math.exp(s[u] - max) / z * vc[((b * nkv + g) * maxLen + u) * d + e];
                            acc += w;
                            mag += Math.abs(w);
                        }
                        int o = (b * n + i) * nq * d + h * d + e;
                        ref[o] = acc;
                        scale[o] = mag * (1 + 2 * spread) + 1e-3;
                    }
                }
            }
        }
        return new Expected(ref, scale);
    }

    @Test
    void positionBufferVariantsEqualTheirFixedOffsetTwins() {
        SplittableRandom r = Check.rng("at-position variants");
        int rows = 6;
        int seq = 3;
        int d = 10;
        int heads = 3;
        int stride = 5 * d;
        float[][] t = Rope.tables(20, d, 10000);
        float[] x = randn(r, rows * stride);
        float[] a = x.clone();
        float[] b = x.clone();
        Rope.rotateCpu(a, t[0], t[1], rows, seq, 7, heads, d, stride, 1f);
        Rope.rotateAt(b, t[0], t[1], new int[] {7}, rows, seq, heads, d, stride, 1f);
        Check.assertClose("rope at pos[0] vs rope at offset", b, Check.toDouble(a), ones(a.length), 2e-7);

        int c = 13;
        float[] wpe = randn(r, 20 * c);
        float[] o1 = randn(r, rows * c);
        float[] o2 = o1.clone();
        Embedding.addPositionsCpu(wpe, o1, rows, seq, 5, c);
        Embedding.addPositionsAt(Check.inSlice(wpe), Check.SLICE_AT, o2, new int[] {5}, rows, seq, c);
        assertBitsEqual("positions at pos[0] vs at offset", o1, o2);

        float[] src = randn(r, rows * c);
        float[] cpu = poisoned(2 * c);
        float[] portable = poisoned(2 * c);
        Fill.lastRowsCpu(src, cpu, 2, 3, c);
        Fill.lastRows(src, portable, 2, 3, c);
        assertBitsEqual("last rows, CPU vs portable", cpu, portable);
        for (int j = 0; j < c; j++) {
            if (cpu[j] != src[2 * c + j] || cpu[c + j] != src[5 * c + j]) throw new AssertionError("last row of a sequence not copied");
        }
    }

    private static double[] ones(int n) {
        double[] x = new double[n];
        java.util.Arrays.fill(x, 1.0);
        return x;
    }
}
