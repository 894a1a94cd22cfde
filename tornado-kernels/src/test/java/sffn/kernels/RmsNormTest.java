package sffn.kernels;

import static sffn.kernels.Check.assertBodiesMatch;
import static sffn.kernels.Check.assertMatchesFiniteDifferences;
import static sffn.kernels.Check.initialOutput;
import static sffn.kernels.Check.poisoned;
import static sffn.kernels.Check.randn;
import static sffn.kernels.Check.toDouble;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import sffn.kernels.Check.Expected;

class RmsNormTest {
    /**
     * The sum of squares and the backward's row and column sums add at most c + rows <= 324
     * float32 terms here: ~324 u = 1.9e-5 of the magnitudes in each scale.
     */
    static final double TOL = 2e-5;
    static final double EPS = 1e-5;

    /** rstd = 1/sqrt(mean(x^2) + eps) per row. */
    static double[] rstd(double[] x, int rows, int c) {
        double[] s = new double[rows];
        for (int i = 0; i < rows; i++) {
            double ss = 0;
            for (int j = 0; j < c; j++) ss += x[i * c + j] * x[i * c + j];
            s[i] = 1 / Math.sqrt(ss / c + EPS);
        }
        return s;
    }

    /** out = x rstd w. */
    static Expected forward(double[] x, double[] w, int rows, int c) {
        double[] s = rstd(x, rows, c);
        double[] out = new double[rows * c];
        double[] mag = new double[rows * c];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < c; j++) {
                out[i * c + j] = x[i * c + j] * s[i] * w[j];
                mag[i * c + j] = Math.abs(out[i * c + j]);
            }
        }
        return new Expected(out, mag);
    }

    /** dx = rstd (g - xhat mean(g xhat)), g = dout w, xhat = x rstd (+ dx0). */
    static Expected backwardInput(double[] dout, double[] x, double[] w, double[] dx0, int rows, int c) {
        double[] st = rstd(x, rows, c);
        double[] dx = new double[rows * c];
        double[] mag = new double[rows * c];
        for (int i = 0; i < rows; i++) {
            double s = st[i];
            double mgx = 0;
            double absGx = 0;
            for (int j = 0; j < c; j++) {
                double g = dout[i * c + j] * w[j];
                mgx += g * x[i * c + j] * s;
                absGx += Math.abs(g * x[i * c + j] * s);
            }
            mgx /= c;
            absGx /= c;
            for (int j = 0; j < c; j++) {
                int o = i * c + j;
                double g = dout[o] * w[j];
                double xhat = x[o] * s;
                double d0 = dx0 == null ? 0 : dx0[o];
                dx[o] = s * (g - xhat * mgx) + d0;
                mag[o] = s * (Math.abs(g) + Math.abs(xhat) * absGx) + Math.abs(d0);
            }
        }
        return new Expected(dx, mag);
    }

    /** dw[j] = sum_i dout xhat (+ dw0). */
    static Expected backwardParams(double[] dout, double[] x, double[] dw0, int rows, int c) {
        double[] st = rstd(x, rows, c);
        double[] dw = new double[c];
        double[] mag = new double[c];
        for (int j = 0; j < c; j++) {
            double s = dw0 == null ? 0 : dw0[j];
            double t = Math.abs(s);
            for (int i = 0; i < rows; i++) {
                double v = dout[i * c + j] * x[i * c + j] * st[i];
                s += v;
                t += Math.abs(v);
            }
            dw[j] = s;
            mag[j] = t;
        }
        return new Expected(dw, mag);
    }

    // ---- tests -------------------------------------------------------------------------------

    @ParameterizedTest(name = "rows={0} c={1}")
    @CsvSource({"1,1", "3,17", "17,31", "5,130", "67,33", "2,257"})
    void forwardMatchesFloat64AndSavesRstd(int rows, int c) {
        SplittableRandom r = Check.rng("rmsnorm.forward", rows, c);
        float[] x = randn(r, rows * c, 2.0);
        float[] w = randn(r, c);
        float[] outCpu = poisoned(rows * c);
        float[] outPortable = poisoned(rows * c);
        float[] rstdCpu = poisoned(rows);
        float[] rstdPortable = poisoned(rows);
        RmsNorm.forwardCpu(x, w, outCpu, rstdCpu, rows, c);
        RmsNorm.forward(x, Check.inSlice(w), Check.SLICE_AT, outPortable, rstdPortable, rows, c);
        double[] xd = toDouble(x);
        assertBodiesMatch("rmsnorm out", outCpu, outPortable, forward(xd, toDouble(w), rows, c), TOL);
        double[] s = rstd(xd, rows, c);
        assertBodiesMatch("rmsnorm rstd", rstdCpu, rstdPortable, new Expected(s, s), TOL);
    }

    @ParameterizedTest(name = "rows={0} c={1}")
    @CsvSource({"1,1", "3,17", "17,31", "5,130", "67,33", "2,257"})
    void backwardMatchesFloat64WithAndWithoutAccumulate(int rows, int c) {
        for (int acc = 0; acc <= 1; acc++) {
            SplittableRandom r = Check.rng("rmsnorm.backward", rows, c, acc);
            boolean accumulate = acc == 1;
            float[] x = randn(r, rows * c, 2.0);
            float[] w = randn(r, c);
            float[] dout = randn(r, rows * c);
            float[] out = new float[rows * c];
            float[] rstdCpu = new float[rows];
            float[] rstdPortable = new float[rows];
            RmsNorm.forwardCpu(x, w, out, rstdCpu, rows, c);
            RmsNorm.forward(x, w, 0, out, rstdPortable, rows, c);
            double[] xd = toDouble(x);
            double[] dd = toDouble(dout);

            float[] dx0 = initialOutput(r, rows * c, accumulate);
            float[] dxCpu = dx0.clone();
            float[] dxPortable = dx0.clone();
            RmsNorm.backwardInputCpu(dout, x, w, rstdCpu, dxCpu, rows, c, accumulate);
            RmsNorm.backwardInput(dout, x, Check.inSlice(w), Check.SLICE_AT, rstdPortable, dxPortable, rows, c, acc);
            assertBodiesMatch("rmsnorm dx accumulate=" + acc, dxCpu, dxPortable,
                    backwardInput(dd, xd, toDouble(w), accumulate ? toDouble(dx0) : null, rows, c), TOL);

            float[] dw0 = initialOutput(r, c, accumulate);
            float[] dwCpu = dw0.clone();
            float[] dwSlice = Check.inSlice(dw0);
            RmsNorm.backwardParamsCpu(dout, x, rstdCpu, dwCpu, rows, c, accumulate);
            RmsNorm.backwardParams(dout, x, rstdPortable, dwSlice, Check.SLICE_AT, rows, c, acc);
            float[] dwPortable = Check.outOfSlice("rmsnorm dw", dwSlice, c);
            assertBodiesMatch("rmsnorm dw accumulate=" + acc, dwCpu, dwPortable,
                    backwardParams(dd, xd, accumulate ? toDouble(dw0) : null, rows, c), TOL);
        }
    }

    /**
     * The fused CPU backward (dx, then dw added to, in one pass with chunked parameter sums)
     * against float64 and the two portable bodies, rows over several chunks; same bits twice.
     */
    @ParameterizedTest(name = "rows={0} c={1}")
    @CsvSource({"1,1", "3,17", "67,33", "130,130", "200,17", "2,257"})
    void fusedBackwardMatchesFloat64(int rows, int c) {
        double tol = Math.max(TOL, (rows + c) * 6.0e-8);
        for (int acc = 0; acc <= 1; acc++) {
            SplittableRandom r = Check.rng("rmsnorm.fused", rows, c, acc);
            boolean accumulate = acc == 1;
            float[] x = randn(r, rows * c, 2.0);
            float[] w = randn(r, c);
            float[] dout = randn(r, rows * c);
            float[] rstd = new float[rows];
            RmsNorm.forwardCpu(x, w, new float[rows * c], rstd, rows, c);
            double[] xd = toDouble(x);
            double[] dd = toDouble(dout);
            float[] dx0 = initialOutput(r, rows * c, accumulate);
            float[] dw0 = randn(r, c);
            float[] dxCpu = dx0.clone();
            float[] dwCpu = dw0.clone();
            RmsNorm.backwardCpu(dout, x, w, rstd, dxCpu, dwCpu, rows, c, accumulate);
            float[] dxPortable = dx0.clone();
            float[] dwPortable = dw0.clone();
            RmsNorm.backwardInput(dout, x, w, 0, rstd, dxPortable, rows, c, acc);
            RmsNorm.backwardParams(dout, x, rstd, dwPortable, 0, rows, c, 1);
            assertBodiesMatch("fused rmsnorm dx accumulate=" + acc, dxCpu, dxPortable,
                    backwardInput(dd, xd, toDouble(w), accumulate ? toDouble(dx0) : null, rows, c), tol);
            assertBodiesMatch("fused rmsnorm dw", dwCpu, dwPortable,
                    backwardParams(dd, xd, toDouble(dw0), rows, c), tol);

            float[] dxAgain = dx0.clone();
            float[] dwAgain = dw0.clone();
            RmsNorm.backwardCpu(dout, x, w, rstd, dxAgain, dwAgain, rows, c, accumulate);
            org.junit.jupiter.api.Assertions.assertArrayEquals(dxCpu, dxAgain, "dx differs on a second run");
            org.junit.jupiter.api.Assertions.assertArrayEquals(dwCpu, dwAgain, "dw differs on a second run");
        }
    }

    /** L = sum dout * rmsnorm(x, w). */
    @ParameterizedTest(name = "rows={0} c={1}")
    @CsvSource({"1,1", "2,3", "3,17", "2,33"})
    void float64BackwardMatchesFiniteDifferences(int rows, int c) {
        SplittableRandom r = Check.rng("rmsnorm.fd", rows, c);
        double[] x = toDouble(randn(r, rows * c, 2.0));
        double[] w = toDouble(randn(r, c));
        double[] dout = toDouble(randn(r, rows * c));
        assertMatchesFiniteDifferences("rmsnorm dx", backwardInput(dout, x, w, null, rows, c).value(),
                v -> Check.dot(dout, forward(v, w, rows, c).value()), x);
        assertMatchesFiniteDifferences("rmsnorm dw", backwardParams(dout, x, null, rows, c).value(),
                v -> Check.dot(dout, forward(x, v, rows, c).value()), w);
    }
}
