package sffn.kernels;

import static sffn.kernels.Check.assertBodiesMatch;
import static sffn.kernels.Check.assertMatchesFiniteDifferences;
import static sffn.kernels.Check.poisoned;
import static sffn.kernels.Check.randn;
import static sffn.kernels.Check.toDouble;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import sffn.kernels.Check.Expected;

class AttentionTest {
    /**
     * Scores are float32 dot products over d <= 40, softmax sums over T <= 33 keys, and the
     * outputs sum over T: each error is at most ~(d + T) u = 4.4e-6 of the magnitude in its scale
     * (the scales carry how score errors grow through exp); 1e-5 bounds it.
     */
    static final double TOL = 1e-5;

    /**
     * For T up to a few hundred the same bound, (d + T) u with d = 64 and T = 230, is 1.7e-5;
     * 4e-5 bounds it (the online softmax adds a few rescalings per row, each a few u).
     */
    static final double TOL_LONG = 4e-5;

    /** The float64 forward and backward over qkv [B*T, (nq + 2 nkv) d], with error scales. */
    record Shape(int batch, int seqLen, int nq, int nkv, int d) {
        int stride() {
            return (nq + 2 * nkv) * d;
        }

        int q(int b, int t, int h) {
            return (b * seqLen + t) * stride() + h * d;
        }

        int k(int b, int u, int g) {
            return (b * seqLen + u) * stride() + (nq + g) * d;
        }

        int v(int b, int u, int g) {
            return (b * seqLen + u) * stride() + (nq + nkv + g) * d;
        }

        int out(int b, int t, int h) {
            return (b * seqLen + t) * nq * d + h * d;
        }

        int prob(int b, int h, int t, int u) {
            return ((b * nq + h) * seqLen + t) * seqLen + u;
        }

        int group(int h) {
            return h / (nq / nkv);
        }

        double scale() {
            return 1 / Math.sqrt(d);
        }
    }

    /**
     * Per (b, h, t): s_u = q.k_u / sqrt(d) for u <= t, p = softmax(s), out = sum_u p_u v_u;
     * p_u = 0 for u > t. Returns {out, probs, factor, lse} and, for the error scales, the per-row
     * factor f = 1 + 2 max_u sum_e |q_e k_ue| / sqrt(d) by which score rounding grows through exp;
     * lse = log sum_u exp(s_u), whose error is at most f u absolute plus u relative.
     */
    static Expected[] forward(double[] qkv, Shape s) {
        double[] out = new double[s.batch * s.seqLen * s.nq * s.d];
        double[] outMag = new double[out.length];
        double[] probs = new double[s.batch * s.nq * s.seqLen * s.seqLen];
        double[] probsMag = new double[probs.length];
        double[] factor = new double[s.batch * s.nq * s.seqLen];
        double[] lse = new double[factor.length];
        double[] lseMag = new double[factor.length];
        for (int b = 0; b < s.batch; b++) {
            for (int h = 0; h < s.nq; h++) {
                int g = s.group(h);
                for (int t = 0; t < s.seqLen; t++) {
                    double[] sc = new double[t + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    double amax = 0;
                    for (int u = 0; u <= t; u++) {
                        double dot = 0;
                        double abs = 0;
                        for (int e = 0; e < s.d; e++) {
                            dot += qkv[s.q(b, t, h) + e] * qkv[s.k(b, u, g) + e];
                            abs += Math.abs(qkv[s.q(b, t, h) + e] * qkv[s.k(b, u, g) + e]);
                        }
                        sc[u] = dot * s.scale();
                        max = Math.max(max, sc[u]);
                        amax = Math.max(amax, abs * s.scale());
                    }
                    double f = 1 + 2 * amax;
                    factor[(b * s.nq + h) * s.seqLen + t] = f;
                    double sum = 0;
                    for (int u = 0; u <= t; u++) sum += Math.exp(sc[u] - max);
                    int row = (b * s.nq + h) * s.seqLen + t;
                    lse[row] = max + Math.log(sum);
                    lseMag[row] = f + Math.abs(lse[row]);
                    for (int u = 0; u <= t; u++) {
                        double p = Math.exp(sc[u] - max) / sum;
                        probs[s.prob(b, h, t, u)] = p;
                        probsMag[s.prob(b, h, t, u)] = p * f;
                    }
                    for (int e = 0; e < s.d; e++) {
                        double acc = 0;
                        double mag = 0;
                        for (int u = 0; u <= t; u++) {
                            double p = probs[s.prob(b, h, t, u)];
                            acc += p * qkv[s.v(b, u, g) + e];
                            mag += p * Math.abs(qkv[s.v(b, u, g) + e]);
                        }
                        out[s.out(b, t, h) + e] = acc;
                        outMag[s.out(b, t, h) + e] = mag * f;
                    }
                }
            }
        }
        return new Expected[] {new Expected(out, outMag), new Expected(probs, probsMag), new Expected(factor, factor),
                new Expected(lse, lseMag)};
    }

    /**
     * dP_u = dout.v_u, dS_u = p_u (dP_u - sum_w p_w dP_w), dq = scale sum_u dS_u k_u,
     * dk_u = scale sum_(h in group, t >= u) dS q_t, dv_u = sum_(h in group, t >= u) p dout_t.
     * Returns {dqkv, dscores, delta}, delta_t = sum_u p_u dP_u (= dout_t . out_t).
     */
    static Expected[] backward(double[] dout, double[] qkv, Shape s) {
        Expected[] fw = forward(qkv, s);
        double[] probs = fw[1].value();
        double[] factor = fw[2].value();
        double[] dqkv = new double[qkv.length];
        double[] dqkvMag = new double[qkv.length];
        double[] ds = new double[probs.length];
        double[] dsMag = new double[probs.length];
        double[] delta = new double[factor.length];
        double[] deltaMag = new double[factor.length];
        double scale = s.scale();
        for (int b = 0; b < s.batch; b++) {
            for (int h = 0; h < s.nq; h++) {
                int g = s.group(h);
                for (int t = 0; t < s.seqLen; t++) {
                    double f = factor[(b * s.nq + h) * s.seqLen + t];
                    double[] dp = new double[t + 1];
                    double[] dpAbs = new double[t + 1];
                    double dot = 0;
                    double dotAbs = 0;
                    for (int u = 0; u <= t; u++) {
                        for (int e = 0; e < s.d; e++) {
                            double v = dout[s.out(b, t, h) + e] * qkv[s.v(b, u, g) + e];
                            dp[u] += v;
                            dpAbs[u] += Math.abs(v);
                        }
                        dot += probs[s.prob(b, h, t, u)] * dp[u];
                        dotAbs += probs[s.prob(b, h, t, u)] * dpAbs[u];
                    }
                    delta[(b * s.nq + h) * s.seqLen + t] = dot;
                    deltaMag[(b * s.nq + h) * s.seqLen + t] = (f + 1) * dotAbs;
                    for (int u = 0; u <= t; u++) {
                        double p = probs[s.prob(b, h, t, u)];
                        double d = p * (dp[u] - dot);
                        double dm = p * (f + 1) * (dpAbs[u] + dotAbs);
                        ds[s.prob(b, h, t, u)] = d;
                        dsMag[s.prob(b, h, t, u)] = dm;
                        for (int e = 0; e < s.d; e++) {
                            dqkv[s.q(b, t, h) + e] += scale * d * qkv[s.k(b, u, g) + e];
                            dqkvMag[s.q(b, t, h) + e] += scale * dm * Math.abs(qkv[s.k(b, u, g) + e]);
                            dqkv[s.k(b, u, g) + e] += scale * d * qkv[s.q(b, t, h) + e];
                            dqkvMag[s.k(b, u, g) + e] += scale * dm * Math.abs(qkv[s.q(b, t, h) + e]);
                            dqkv[s.v(b, u, g) + e] += p * dout[s.out(b, t, h) + e];
                            dqkvMag[s.v(b, u, g) + e] += p * f * Math.abs(dout[s.out(b, t, h) + e]);
                        }
                    }
                }
            }
        }
        return new Expected[] {new Expected(dqkv, dqkvMag), new Expected(ds, dsMag), new Expected(delta, deltaMag)};
    }

    // ---- tests -------------------------------------------------------------------------------

    /** Causal, with GQA groups of 1, 2 and 3 query heads per key/value head, seqLen 1 and odd, d off 16. */
    @ParameterizedTest(name = "batch={0} seqLen={1} nq={2} nkv={3} d={4}")
    @CsvSource({"1,1,1,1,8", "2,7,3,1,8", "1,17,6,2,24", "3,5,4,4,40", "1,33,2,1,24", "2,1,3,1,40"})
    void forwardAndBackwardMatchFloat64(int batch, int seqLen, int nq, int nkv, int d) {
        checkAgainstFloat64(new Shape(batch, seqLen, nq, nkv, d), TOL);
    }

    /**
     * Shapes spanning several query/key tiles (about 96) and score blocks (192) with ragged last
     * ones, GQA 4:2 and 6:1, d 24, 40 and 64 (64 a multiple of every vector length, the others not).
     */
    @ParameterizedTest(name = "batch={0} seqLen={1} nq={2} nkv={3} d={4}")
    @CsvSource({"1,230,4,2,40", "2,97,6,1,24", "1,201,6,1,64", "1,389,4,2,24"})
    void longSequencesMatchFloat64(int batch, int seqLen, int nq, int nkv, int d) {
        checkAgainstFloat64(new Shape(batch, seqLen, nq, nkv, d), TOL_LONG);
    }

    /**
     * The fused bodies (head dims a multiple of 16, on AVX-512; elsewhere these run the blocked
     * ones) across their strips of 6 queries, blocks of 48 keys and tiles of 96 queries, all ragged:
     * d 16, 32 and 48 (fewer columns than its 4-vector register tile), 80 (a 4-vector tile and a
     * 1-vector one), 128 (two tiles); GQA 2:1 and 4:2, and 3 heads (odd: the work order hands out
     * the odd heads, then the even ones).
     */
    @ParameterizedTest(name = "batch={0} seqLen={1} nq={2} nkv={3} d={4}")
    @CsvSource({"2,53,3,3,16", "1,100,2,1,32", "1,149,4,2,48", "1,97,2,2,80", "1,131,2,1,128", "1,7,1,1,64", "1,61,3,1,32"})
    void fusedBodiesMatchFloat64(int batch, int seqLen, int nq, int nkv, int d) {
        checkAgainstFloat64(new Shape(batch, seqLen, nq, nkv, d), TOL_LONG, Attention::forwardCpu, Attention::backwardCpu);
    }

    /**
     * The fused bodies with scores spread over hundreds (inputs of scale 6, not 1.5): a row's
     * running max then passes its margin in later blocks too, so the rescaling of the output and
     * denominators runs, and most probabilities underflow to 0.
     */
    @ParameterizedTest(name = "batch={0} seqLen={1} nq={2} nkv={3} d={4}")
    @CsvSource({"1,149,4,2,64", "1,131,2,1,128", "2,53,3,3,16"})
    void fusedBodiesMatchFloat64WithSharpScores(int batch, int seqLen, int nq, int nkv, int d) {
        checkAgainstFloat64(new Shape(batch, seqLen, nq, nkv, d), TOL_LONG, Attention::forwardCpu, Attention::backwardCpu,
                6);
    }

    /** The blocked bodies, for other head dims and narrower vectors, at dims the fused ones take here. */
    @ParameterizedTest(name = "batch={0} seqLen={1} nq={2} nkv={3} d={4}")
    @CsvSource({"1,201,6,1,64", "2,97,4,2,32"})
    void blockedBodiesMatchFloat64(int batch, int seqLen, int nq, int nkv, int d) {
        checkAgainstFloat64(new Shape(batch, seqLen, nq, nkv, d), TOL_LONG, Attention::forwardBlocked,
                Attention::backwardBlocked);
    }

    interface Forward {
        void run(float[] qkv, float[] out, float[] lse, int batch, int seqLen, int nq, int nkv, int d);
    }

    interface Backward {
        void run(float[] dout, float[] qkv, float[] out, float[] lse, float[] delta, float[] dqkv,
                 int batch, int seqLen, int nq, int nkv, int d);
    }

    private static void checkAgainstFloat64(Shape s, double tol) {
        checkAgainstFloat64(s, tol, Attention::forwardCpu, Attention::backwardCpu);
    }

    /** Both bodies against float64, from NaN-poisoned outputs; lse and delta are checked too. */
    private static void checkAgainstFloat64(Shape s, double tol, Forward cpuForward, Backward cpuBackward) {
        checkAgainstFloat64(s, tol, cpuForward, cpuBackward, 1.5);
    }

    /** As above, with inputs of standard deviation {@code inputScale}. */
    private static void checkAgainstFloat64(Shape s, double tol, Forward cpuForward, Backward cpuBackward,
                                            double inputScale) {
        int batch = s.batch;
        int seqLen = s.seqLen;
        int nq = s.nq;
        int nkv = s.nkv;
        int d = s.d;
        SplittableRandom r = Check.rng("attention", batch, seqLen, nq, nkv, d);
        float[] qkv = randn(r, batch * seqLen * s.stride(), inputScale);
        float[] dout = randn(r, batch * seqLen * nq * d);
        int nOut = dout.length;
        int nRows = batch * nq * seqLen;

        float[] outCpu = poisoned(nOut);
        float[] outPortable = poisoned(nOut);
        float[] lseCpu = poisoned(nRows);
        float[] lsePortable = poisoned(nRows);
        cpuForward.run(qkv, outCpu, lseCpu, batch, seqLen, nq, nkv, d);
        Attention.forward(qkv, outPortable, lsePortable, batch, seqLen, nq, nkv, d);
        Expected[] fw = forward(toDouble(qkv), s);
        assertBodiesMatch("attention out", outCpu, outPortable, fw[0], tol);
        assertBodiesMatch("attention lse", lseCpu, lsePortable, fw[3], tol);

        float[] deltaCpu = poisoned(nRows);
        float[] dqkvCpu = poisoned(qkv.length);
        cpuBackward.run(dout, qkv, outCpu, lseCpu, deltaCpu, dqkvCpu, batch, seqLen, nq, nkv, d);
        float[] deltaPortable = poisoned(nRows);
        float[] dqkvPortable = poisoned(qkv.length);
        Attention.backwardQuery(dout, qkv, outPortable, lsePortable, deltaPortable, dqkvPortable, batch, seqLen, nq, nkv, d);
        Attention.backwardKeyValue(dout, qkv, lsePortable, deltaPortable, dqkvPortable, batch, seqLen, nq, nkv, d);
        Expected[] bw = backward(toDouble(dout), toDouble(qkv), s);
        assertBodiesMatch("attention delta", deltaCpu, deltaPortable, bw[2], tol);
        assertBodiesMatch("attention dqkv", dqkvCpu, dqkvPortable, bw[0], tol);
    }

    /** L = sum dout * attention(qkv), with every element of q, k and v perturbed. */
    @ParameterizedTest(name = "batch={0} seqLen={1} nq={2} nkv={3} d={4}")
    @CsvSource({"1,1,1,1,2", "2,4,3,1,4", "1,5,4,2,3", "1,3,2,2,5"})
    void float64BackwardMatchesFiniteDifferences(int batch, int seqLen, int nq, int nkv, int d) {
        Shape s = new Shape(batch, seqLen, nq, nkv, d);
        SplittableRandom r = Check.rng("attention.fd", batch, seqLen, nq, nkv, d);
        double[] qkv = toDouble(randn(r, batch * seqLen * s.stride(), 1.5));
        double[] dout = toDouble(randn(r, batch * seqLen * nq * d));
        assertMatchesFiniteDifferences("attention dqkv", backward(dout, qkv, s)[0].value(),
                v -> Check.dot(dout, forward(v, s)[0].value()), qkv);
    }
}
