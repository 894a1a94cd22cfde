package sffn.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static sffn.kernels.Check.assertBodiesMatch;
import static sffn.kernels.Check.poisoned;
import static sffn.kernels.Check.randn;
import static sffn.kernels.Check.toDouble;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import sffn.kernels.Check.Expected;

class AdamWTest {
    /**
     * Each step rounds m, v and the update a handful of times (<= ~10 u relative, the update
     * m / (sqrt(v) + eps) being well conditioned while sqrt(v) >> eps); over 6 steps these add
     * up to ~60 u = 3.6e-6 of each scale, which tracks the magnitudes that were summed.
     */
    static final double TOL = 5e-6;
    static final int STEPS = 6;
    static final float BETA1 = 0.9f;
    static final float BETA2 = 0.999f;
    static final float EPS = 1e-8f;
    static final float WEIGHT_DECAY = 0.1f;

    /** A step's learning rate and clipping factor: a warmup-like ramp, and clipping on alternate steps. */
    static float lr(int step) {
        return 1e-3f * step / STEPS;
    }

    static float clip(int step) {
        return step % 2 == 0 ? 0.37f : 1f;
    }

    /**
     * PyTorch's AdamW step (torch.optim.AdamW, single-tensor path) on gradients that
     * clip_grad_norm_ multiplied by the clip factor, in float64:
     * <pre>
     *   g = grad * clip;  p *= 1 - lr wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
     *   p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
     * </pre>
     * Returns {p, m, v}; each scale is the sum of the magnitudes that made the value.
     */
    static Expected[] steps(double[] p0, double[] m0, double[] v0, double[][] grads) {
        int n = p0.length;
        double[] p = p0.clone();
        double[] m = m0.clone();
        double[] v = v0.clone();
        double[] pMag = new double[n];
        double[] mMag = new double[n];
        double[] vMag = new double[n];
        for (int i = 0; i < n; i++) {
            pMag[i] = Math.abs(p[i]);
            mMag[i] = Math.abs(m[i]);
            vMag[i] = v[i];
        }
        for (int t = 1; t <= grads.length; t++) {
            double lr = lr(t);
            double bc1 = 1 - Math.pow(BETA1, t);
            double bc2 = 1 - Math.pow(BETA2, t);
            for (int i = 0; i < n; i++) {
                double g = grads[t - 1][i] * clip(t);
                double decay = lr * WEIGHT_DECAY * p[i];
                p[i] *= 1 - lr * WEIGHT_DECAY;
                m[i] = BETA1 * m[i] + (1 - BETA1) * g;
                v[i] = BETA2 * v[i] + (1 - BETA2) * g * g;
                double step = (lr / bc1) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + EPS);
                p[i] -= step;
                mMag[i] = BETA1 * mMag[i] + (1 - BETA1) * Math.abs(g);
                vMag[i] = v[i];
                pMag[i] += Math.abs(decay) + Math.abs(step);
            }
        }
        return new Expected[] {new Expected(p, pMag), new Expected(m, mMag), new Expected(v, vMag)};
    }

    /** The step scalars of step t; every other slot is NaN so a misread shows. */
    static float[] scalars(int t) {
        float[] s = poisoned(StepScalars.size(0));
        s[StepScalars.LR] = lr(t);
        s[StepScalars.BIAS_CORRECTION1] = (float) (1 - Math.pow(BETA1, t));
        s[StepScalars.BIAS_CORRECTION2] = (float) (1 - Math.pow(BETA2, t));
        s[StepScalars.CLIP_SCALE] = clip(t);
        return s;
    }

    /** Sizes off the vector length, and past two CPU chunks of 8192. */
    @ParameterizedTest(name = "n={0}")
    @ValueSource(ints = {1, 3, 17, 33, 130, 16411})
    void severalStepsMatchFloat64PyTorchAdamWWithClippingAndBiasCorrection(int n) {
        SplittableRandom r = Check.rng("adamw", n);
        float[] p0 = randn(r, n, 0.5);
        float[] m0 = new float[n];
        float[] v0 = new float[n];
        float[][] grads = new float[STEPS][];
        double[][] gradsD = new double[STEPS][];
        for (int t = 0; t < STEPS; t++) {
            grads[t] = randn(r, n, 0.1);
            gradsD[t] = toDouble(grads[t]);
        }
        float[] pCpu = p0.clone();
        float[] mCpu = m0.clone();
        float[] vCpu = v0.clone();
        float[] pPortable = p0.clone();
        float[] mPortable = m0.clone();
        float[] vPortable = v0.clone();
        for (int t = 1; t <= STEPS; t++) {
            float[] s = scalars(t);
            float[] gCpu = grads[t - 1].clone();
            float[] gPortable = grads[t - 1].clone();
            AdamW.updateCpu(pCpu, gCpu, mCpu, vCpu, s, n, BETA1, BETA2, EPS, WEIGHT_DECAY);
            AdamW.update(pPortable, gPortable, mPortable, vPortable, s, n, BETA1, BETA2, EPS, WEIGHT_DECAY);
            assertZero("cpu body's gradient after step " + t, gCpu);
            assertZero("portable body's gradient after step " + t, gPortable);
        }
        Expected[] ref = steps(toDouble(p0), toDouble(m0), toDouble(v0), gradsD);
        assertBodiesMatch("adamw parameters after " + STEPS + " steps", pCpu, pPortable, ref[0], TOL);
        assertBodiesMatch("adamw first moment after " + STEPS + " steps", mCpu, mPortable, ref[1], TOL);
        assertBodiesMatch("adamw second moment after " + STEPS + " steps", vCpu, vPortable, ref[2], TOL);
    }

    /** Resuming from non-zero moments (as after a checkpoint) at a late step, where bias correction is mild. */
    @ParameterizedTest(name = "n={0}")
    @ValueSource(ints = {1, 31, 67})
    void oneStepFromExistingMomentsMatchesFloat64(int n) {
        SplittableRandom r = Check.rng("adamw.resume", n);
        float[] p0 = randn(r, n, 0.5);
        float[] m0 = randn(r, n, 0.01);
        float[] v0 = Check.uniform(r, n, 1e-5, 1e-3);
        float[] grad = randn(r, n, 0.1);
        int t = 5;
        float[] pCpu = p0.clone();
        float[] mCpu = m0.clone();
        float[] vCpu = v0.clone();
        float[] pPortable = p0.clone();
        float[] mPortable = m0.clone();
        float[] vPortable = v0.clone();
        float[] gCpu = grad.clone();
        float[] gPortable = grad.clone();
        AdamW.updateCpu(pCpu, gCpu, mCpu, vCpu, scalars(t), n, BETA1, BETA2, EPS, WEIGHT_DECAY);
        AdamW.update(pPortable, gPortable, mPortable, vPortable, scalars(t), n, BETA1, BETA2, EPS, WEIGHT_DECAY);
        assertZero("cpu body's gradient", gCpu);
        assertZero("portable body's gradient", gPortable);

        // steps() numbers its steps from 1; run it once with step t's scalars by shifting the schedule.
        double lr = lr(t);
        double bc1 = 1 - Math.pow(BETA1, t);
        double bc2 = 1 - Math.pow(BETA2, t);
        double[] p = new double[n];
        double[] m = new double[n];
        double[] v = new double[n];
        double[] pMag = new double[n];
        double[] mMag = new double[n];
        for (int i = 0; i < n; i++) {
            double g = (double) grad[i] * clip(t);
            m[i] = BETA1 * (double) m0[i] + (1 - BETA1) * g;
            v[i] = BETA2 * (double) v0[i] + (1 - BETA2) * g * g;
            double decay = lr * WEIGHT_DECAY * p0[i];
            double step = (lr / bc1) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + EPS);
            p[i] = p0[i] - decay - step;
            pMag[i] = Math.abs(p0[i]) + Math.abs(decay) + Math.abs(step);
            mMag[i] = BETA1 * Math.abs(m0[i]) + (1 - BETA1) * Math.abs(g);
        }
        assertBodiesMatch("adamw parameters", pCpu, pPortable, new Expected(p, pMag), TOL);
        assertBodiesMatch("adamw first moment", mCpu, mPortable, new Expected(m, mMag), TOL);
        assertBodiesMatch("adamw second moment", vCpu, vPortable, new Expected(v, v), TOL);
    }

    /** Each update leaves the gradient it read zero (+0), ready for the next step's accumulation. */
    private static void assertZero(String what, float[] g) {
        for (int i = 0; i < g.length; i++) assertEquals(0, Float.floatToRawIntBits(g[i]), what + " [" + i + "]");
    }
}
