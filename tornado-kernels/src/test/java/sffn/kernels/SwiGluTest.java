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

class SwiGluTest {
    /**
     * exp, a division and a few products: a handful of roundings, each at most ~u times the
     * scale; 1e-6 is ~17 u.
     */
    static final double TOL = 1e-6;

    static double sigmoid(double a) {
        return 1 / (1 + Math.exp(-a));
    }

    /** out[r,j] = silu(x[r,j]) x[r,f+j]; x is [rows, 2f]. */
    static Expected forward(double[] x, int rows, int f) {
        double[] out = new double[rows * f];
        double[] mag = new double[rows * f];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < f; j++) {
                double a = x[r * 2 * f + j];
                out[r * f + j] = a * sigmoid(a) * x[r * 2 * f + f + j];
                mag[r * f + j] = Math.abs(out[r * f + j]);
            }
        }
        return new Expected(out, mag);
    }

    /** d/da = dout b sig (1 + a (1 - sig)), d/db = dout a sig. */
    static Expected backward(double[] x, double[] dout, int rows, int f) {
        double[] dx = new double[rows * 2 * f];
        double[] mag = new double[dx.length];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < f; j++) {
                double a = x[r * 2 * f + j];
                double b = x[r * 2 * f + f + j];
                double d = dout[r * f + j];
                double sig = sigmoid(a);
                dx[r * 2 * f + j] = d * b * sig * (1 + a * (1 - sig));
                // 1 - sig cancels as sig -> 1; its error is ~u absolute, hence |a| rather than |a| (1 - sig).
                mag[r * 2 * f + j] = Math.abs(d * b * sig) * (1 + Math.abs(a));
                dx[r * 2 * f + f + j] = d * a * sig;
                mag[r * 2 * f + f + j] = Math.abs(d * a * sig);
            }
        }
        return new Expected(dx, mag);
    }

    @ParameterizedTest(name = "rows={0} f={1}")
    @CsvSource({"1,1", "3,17", "5,31", "2,67", "17,33", "4,130"})
    void forwardAndBackwardMatchFloat64(int rows, int f) {
        SplittableRandom r = Check.rng("swiglu", rows, f);
        float[] x = randn(r, rows * 2 * f, 3.0);
        x[0] = 12f;
        x[rows * 2 * f - 1] = -12f;
        float[] dout = randn(r, rows * f);
        float[] outCpu = poisoned(rows * f);
        float[] outPortable = poisoned(rows * f);
        SwiGlu.forwardCpu(x, outCpu, rows, f);
        SwiGlu.forward(x, outPortable, rows, f);
        assertBodiesMatch("swiglu forward", outCpu, outPortable, forward(toDouble(x), rows, f), TOL);

        float[] dxCpu = poisoned(rows * 2 * f);
        float[] dxPortable = poisoned(rows * 2 * f);
        SwiGlu.backwardCpu(x, dout, dxCpu, rows, f);
        SwiGlu.backward(x, dout, dxPortable, rows, f);
        assertBodiesMatch("swiglu backward", dxCpu, dxPortable, backward(toDouble(x), toDouble(dout), rows, f), TOL);
    }

    @ParameterizedTest(name = "rows={0} f={1}")
    @CsvSource({"1,1", "3,5", "2,17"})
    void float64BackwardMatchesFiniteDifferences(int rows, int f) {
        SplittableRandom r = Check.rng("swiglu.fd", rows, f);
        double[] x = toDouble(randn(r, rows * 2 * f, 2.0));
        double[] dout = toDouble(randn(r, rows * f));
        assertMatchesFiniteDifferences("swiglu backward", backward(x, dout, rows, f).value(),
                v -> Check.dot(dout, forward(v, rows, f).value()), x);
    }
}
