package sffn.kernels;

import static sffn.kernels.Check.assertBodiesMatch;
import static sffn.kernels.Check.assertMatchesFiniteDifferences;
import static sffn.kernels.Check.initialOutput;
import static sffn.kernels.Check.randn;
import static sffn.kernels.Check.toDouble;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import sffn.kernels.Check.Expected;

class BlockDiagMatmulTest {
    /** Longest float32 sum here: 130 rows + 1 addend, so (n-1) u < 1e-5 bounds any summation order. */
    static final double TOL = 1e-5;

    // ---- float64 reference; x [R, nb*p], w [nb, q, p], y [R, nb*q] ---------------------------

    static Expected forward(double[] x, double[] w, double[] y0, int rows, int nb, int q, int p) {
        double[] y = new double[rows * nb * q];
        double[] mag = new double[y.length];
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < nb; b++) {
                for (int i = 0; i < q; i++) {
                    int o = r * nb * q + b * q + i;
                    double s = y0 == null ? 0 : y0[o];
                    double t = Math.abs(s);
                    for (int j = 0; j < p; j++) {
                        double v = w[(b * q + i) * p + j] * x[r * nb * p + b * p + j];
                        s += v;
                        t += Math.abs(v);
                    }
                    y[o] = s;
                    mag[o] = t;
                }
            }
        }
        return new Expected(y, mag);
    }

    static Expected backwardInput(double[] dy, double[] w, double[] dx0, int rows, int nb, int q, int p) {
        double[] dx = new double[rows * nb * p];
        double[] mag = new double[dx.length];
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < nb; b++) {
                for (int j = 0; j < p; j++) {
                    int o = r * nb * p + b * p + j;
                    double s = dx0 == null ? 0 : dx0[o];
                    double t = Math.abs(s);
                    for (int i = 0; i < q; i++) {
                        double v = w[(b * q + i) * p + j] * dy[r * nb * q + b * q + i];
                        s += v;
                        t += Math.abs(v);
                    }
                    dx[o] = s;
                    mag[o] = t;
                }
            }
        }
        return new Expected(dx, mag);
    }

    static Expected backwardWeight(double[] dy, double[] x, double[] dw0, int rows, int nb, int q, int p) {
        double[] dw = new double[nb * q * p];
        double[] mag = new double[dw.length];
        for (int b = 0; b < nb; b++) {
            for (int i = 0; i < q; i++) {
                for (int j = 0; j < p; j++) {
                    int o = (b * q + i) * p + j;
                    double s = dw0 == null ? 0 : dw0[o];
                    double t = Math.abs(s);
                    for (int r = 0; r < rows; r++) {
                        double v = dy[r * nb * q + b * q + i] * x[r * nb * p + b * p + j];
                        s += v;
                        t += Math.abs(v);
                    }
                    dw[o] = s;
                    mag[o] = t;
                }
            }
        }
        return new Expected(dw, mag);
    }

    // ---- tests -------------------------------------------------------------------------------

    @ParameterizedTest(name = "rows={0} nb={1} q={2} p={3}")
    @CsvSource({"1,1,1,1", "3,3,17,5", "17,5,3,33", "7,3,33,17", "130,2,5,3", "4,5,31,67"})
    void forwardAndBackwardMatchFloat64WithAndWithoutAccumulate(int rows, int nb, int q, int p) {
        for (int acc = 0; acc <= 1; acc++) {
            SplittableRandom r = Check.rng("blockdiag", rows, nb, q, p, acc);
            boolean accumulate = acc == 1;
            float[] x = randn(r, rows * nb * p);
            float[] w = randn(r, nb * q * p);
            float[] dy = randn(r, rows * nb * q);

            float[] y0 = initialOutput(r, rows * nb * q, accumulate);
            float[] yCpu = y0.clone();
            float[] yPortable = y0.clone();
            BlockDiagMatmul.forwardCpu(x, w, yCpu, rows, nb, q, p, accumulate);
            BlockDiagMatmul.forward(x, Check.inSlice(w), Check.SLICE_AT, yPortable, rows, nb, q, p, acc);
            assertBodiesMatch("blockdiag forward accumulate=" + acc, yCpu, yPortable,
                    forward(toDouble(x), toDouble(w), accumulate ? toDouble(y0) : null, rows, nb, q, p), TOL);

            float[] dx0 = initialOutput(r, rows * nb * p, accumulate);
            float[] dxCpu = dx0.clone();
            float[] dxPortable = dx0.clone();
            BlockDiagMatmul.backwardInputCpu(dy, w, dxCpu, rows, nb, q, p, accumulate);
            BlockDiagMatmul.backwardInput(dy, Check.inSlice(w), Check.SLICE_AT, dxPortable, rows, nb, q, p, acc);
            assertBodiesMatch("blockdiag dx accumulate=" + acc, dxCpu, dxPortable,
                    backwardInput(toDouble(dy), toDouble(w), accumulate ? toDouble(dx0) : null, rows, nb, q, p), TOL);

            float[] dw0 = initialOutput(r, nb * q * p, accumulate);
            float[] dwCpu = dw0.clone();
            float[] dwSlice = Check.inSlice(dw0);
            BlockDiagMatmul.backwardWeightCpu(dy, x, dwCpu, rows, nb, q, p, accumulate);
            BlockDiagMatmul.backwardWeight(dy, x, dwSlice, Check.SLICE_AT, rows, nb, q, p, acc);
            float[] dwPortable = Check.outOfSlice("blockdiag dw", dwSlice, nb * q * p);
            assertBodiesMatch("blockdiag dw accumulate=" + acc, dwCpu, dwPortable,
                    backwardWeight(toDouble(dy), toDouble(x), accumulate ? toDouble(dw0) : null, rows, nb, q, p), TOL);
        }
    }

    /** L = sum dy * y(x, w). */
    @ParameterizedTest(name = "rows={0} nb={1} q={2} p={3}")
    @CsvSource({"1,1,1,1", "3,3,5,4", "2,5,3,7"})
    void float64BackwardMatchesFiniteDifferences(int rows, int nb, int q, int p) {
        SplittableRandom r = Check.rng("blockdiag.fd", rows, nb, q, p);
        double[] x = toDouble(randn(r, rows * nb * p));
        double[] w = toDouble(randn(r, nb * q * p));
        double[] dy = toDouble(randn(r, rows * nb * q));
        assertMatchesFiniteDifferences("blockdiag dx", backwardInput(dy, w, null, rows, nb, q, p).value(),
                v -> Check.dot(dy, forward(v, w, null, rows, nb, q, p).value()), x);
        assertMatchesFiniteDifferences("blockdiag dw", backwardWeight(dy, x, null, rows, nb, q, p).value(),
                v -> Check.dot(dy, forward(x, v, null, rows, nb, q, p).value()), w);
    }
}
