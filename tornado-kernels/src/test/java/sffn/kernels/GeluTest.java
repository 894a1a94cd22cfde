package sffn.kernels;

import static sffn.kernels.Check.assertBodiesMatch;
import static sffn.kernels.Check.assertMatchesFiniteDifferences;
import static sffn.kernels.Check.poisoned;
import static sffn.kernels.Check.randn;
import static sffn.kernels.Check.toDouble;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import sffn.kernels.Check.Expected;

class GeluTest {
    /**
     * A few float32 roundings plus tanh's own error of a couple of ulp, each at most ~u times the
     * scale (|x| forward; the magnitudes of the derivative's terms backward): 1e-6 is ~17 u.
     */
    static final double TOL = 1e-6;
    static final double K = 0.7978845608;
    static final double C = 0.044715;

    /** gelu(x) = 0.5 x (1 + tanh(K (x + C x^3))); the scale is |x|. */
    static Expected forward(double[] x) {
        double[] out = new double[x.length];
        double[] mag = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double t = Math.tanh(K * (x[i] + C * x[i] * x[i] * x[i]));
            out[i] = 0.5 * x[i] * (1 + t);
            mag[i] = Math.abs(x[i]);
        }
        return new Expected(out, mag);
    }

    /** dx = dout (0.5 (1 + t) + 0.5 x (1 - t^2) K (1 + 3 C x^2)). */
    static Expected backward(double[] x, double[] dout) {
        double[] dx = new double[x.length];
        double[] mag = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double v = x[i];
            double t = Math.tanh(K * (v + C * v * v * v));
            double tail = 0.5 * v * K * (1 + 3 * C * v * v);
            dx[i] = dout[i] * (0.5 * (1 + t) + tail * (1 - t * t));
            // 1 - t^2 cancels when |t| -> 1: its rounding error is ~u, not ~u (1 - t^2).
            mag[i] = Math.abs(dout[i]) * (0.5 * (1 + Math.abs(t)) + Math.abs(tail) * (1 + t * t));
        }
        return new Expected(dx, mag);
    }

    /** Normal(0, 9) inputs with the tails and zero planted at the front. */
    static float[] inputs(SplittableRandom r, int n) {
        float[] x = randn(r, n, 3.0);
        float[] planted = {0f, -10f, 10f, -25f, 25f, -0.5f, 3.5f};
        System.arraycopy(planted, 0, x, 0, Math.min(n, planted.length));
        return x;
    }

    /** Sizes off the vector length, and one past two CPU chunks of 16384. */
    @ParameterizedTest(name = "n={0}")
    @ValueSource(ints = {1, 3, 17, 31, 33, 67, 130, 32785})
    void forwardAndBackwardMatchFloat64(int n) {
        SplittableRandom r = Check.rng("gelu", n);
        float[] x = inputs(r, n);
        float[] dout = randn(r, n);
        float[] outCpu = poisoned(n);
        float[] outPortable = poisoned(n);
        Gelu.forwardCpu(x, outCpu, n);
        Gelu.forward(x, outPortable, n);
        assertBodiesMatch("gelu forward", outCpu, outPortable, forward(toDouble(x)), TOL);

        float[] dxCpu = poisoned(n);
        float[] dxPortable = poisoned(n);
        Gelu.backwardCpu(x, dout, dxCpu, n);
        Gelu.backward(x, dout, dxPortable, n);
        assertBodiesMatch("gelu backward", dxCpu, dxPortable, backward(toDouble(x), toDouble(dout)), TOL);
    }

    @ParameterizedTest(name = "n={0}")
    @ValueSource(ints = {1, 33})
    void float64BackwardMatchesFiniteDifferences(int n) {
        SplittableRandom r = Check.rng("gelu.fd", n);
        double[] x = toDouble(randn(r, n, 2.0));
        double[] dout = toDouble(randn(r, n));
        assertMatchesFiniteDifferences("gelu backward", backward(x, dout).value(),
                v -> Check.dot(dout, forward(v).value()), x);
    }
}
