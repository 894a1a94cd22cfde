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

class LayerNormTest {
    /**
     * Mean, variance and the backward's row and column sums each add at most c + rows <= 324
     * float32 terms here, so every result errs by at most ~324 u = 1.9e-5 of the magnitudes in
     * its scale (which folds in the error xhat inherits from mean and rstd).
     */
    static final double TOL = 2e-5;
    static final double EPS = 1e-5;

    /** Per row: m = mean(x), rstd = 1/sqrt(mean((x-m)^2) + eps), xhat = (x - m) rstd. */
    static double[][] stats(double[] x, int rows, int c) {
        double[] mean = new double[rows];
        double[] rstd = new double[rows];
        for (int i = 0; i < rows; i++) {
            double m = 0;
            for (int j = 0; j < c; j++) m += x[i * c + j];
            m /= c;
            double v = 0;
            for (int j = 0; j < c; j++) v += (x[i * c + j] - m) * (x[i * c + j] - m);
            mean[i] = m;
            rstd[i] = 1 / Math.sqrt(v / c + EPS);
        }
        return new double[][] {mean, rstd};
    }

    /** out = xhat w + b; the scale is (|xhat| + 1)|w| + |b|. */
    static Expected forward(double[] x, double[] w, double[] b, int rows, int c) {
        double[][] st = stats(x, rows, c);
        double[] out = new double[rows * c];
        double[] mag = new double[rows * c];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < c; j++) {
                double xhat = (x[i * c + j] - st[0][i]) * st[1][i];
                out[i * c + j] = xhat * w[j] + b[j];
                mag[i * c + j] = (Math.abs(xhat) + 1) * Math.abs(w[j]) + Math.abs(b[j]);
            }
        }
        return new Expected(out, mag);
    }

    /** dx = rstd (g - mean(g) - xhat mean(g xhat)), g = dout w (+ dx0). */
    static Expected backwardInput(double[] dout, double[] x, double[] w, double[] dx0, int rows, int c) {
        double[][] st = stats(x, rows, c);
        double[] dx = new double[rows * c];
        double[] mag = new double[rows * c];
        for (int i = 0; i < rows; i++) {
            double s = st[1][i];
            double mg = 0;
            double mgx = 0;
            double absG = 0;
            double absGx = 0;
            for (int j = 0; j < c; j++) {
                double g = dout[i * c + j] * w[j];
                double xhat = (x[i * c + j] - st[0][i]) * s;
                mg += g;
                mgx += g * xhat;
                absG += Math.abs(g);
                absGx += Math.abs(g) * (Math.abs(xhat) + 1);
            }
            mg /= c;
            mgx /= c;
            absG /= c;
            absGx /= c;
            for (int j = 0; j < c; j++) {
                int o = i * c + j;
                double g = dout[o] * w[j];
                double xhat = (x[o] - st[0][i]) * s;
                double d0 = dx0 == null ? 0 : dx0[o];
                dx[o] = s * (g - mg - xhat * mgx) + d0;
                mag[o] = s * (Math.abs(g) + absG + (Math.abs(xhat) + 1) * absGx) + Math.abs(d0);
            }
        }
        return new Expected(dx, mag);
    }

    /** dw[j] = sum_i dout xhat (+ dw0), db[j] = sum_i dout (+ db0). */
    static Expected[] backwardParams(double[] dout, double[] x, double[] dw0, double[] db0, int rows, int c) {
        double[][] st = stats(x, rows, c);
        double[] dw = new double[c];
        double[] db = new double[c];
        double[] magW = new double[c];
        double[] magB = new double[c];
        for (int j = 0; j < c; j++) {
            double sw = dw0 == null ? 0 : dw0[j];
            double sb = db0 == null ? 0 : db0[j];
            double tw = Math.abs(sw);
            double tb = Math.abs(sb);
            for (int i = 0; i < rows; i++) {
                double d = dout[i * c + j];
                double xhat = (x[i * c + j] - st[0][i]) * st[1][i];
                sw += d * xhat;
                sb += d;
                tw += Math.abs(d) * (Math.abs(xhat) + 1);
                tb += Math.abs(d);
            }
            dw[j] = sw;
            db[j] = sb;
            magW[j] = tw;
            magB[j] = tb;
        }
        return new Expected[] {new Expected(dw, magW), new Expected(db, magB)};
    }

    // ---- tests -------------------------------------------------------------------------------

    @ParameterizedTest(name = "rows={0} c={1}")
    @CsvSource({"1,1", "3,17", "17,31", "5,130", "67,33", "2,257"})
    void forwardMatchesFloat64AndSavesMeanAndRstd(int rows, int c) {
        SplittableRandom r = Check.rng("layernorm.forward", rows, c);
        float[] x = randn(r, rows * c, 2.0);
        for (int i = 0; i < x.length; i++) x[i] += 0.5f;
        float[] w = randn(r, c);
        float[] b = randn(r, c);
        float[] outCpu = poisoned(rows * c);
        float[] outPortable = poisoned(rows * c);
        float[] meanCpu = poisoned(rows);
        float[] meanPortable = poisoned(rows);
        float[] rstdCpu = poisoned(rows);
        float[] rstdPortable = poisoned(rows);
        LayerNorm.forwardCpu(x, w, b, outCpu, meanCpu, rstdCpu, rows, c);
        LayerNorm.forward(x, Check.inSlice(w), Check.SLICE_AT, Check.inSlice(b), Check.SLICE_AT, outPortable, meanPortable,
                rstdPortable, rows, c);
        double[] xd = toDouble(x);
        assertBodiesMatch("layernorm out", outCpu, outPortable, forward(xd, toDouble(w), toDouble(b), rows, c), TOL);

        double[][] st = stats(xd, rows, c);
        double[] meanScale = new double[rows];
        double[] rstdScale = new double[rows];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < c; j++) meanScale[i] += Math.abs(xd[i * c + j]) / c;
            rstdScale[i] = st[1][i];
        }
        assertBodiesMatch("layernorm mean", meanCpu, meanPortable, new Expected(st[0], meanScale), TOL);
        assertBodiesMatch("layernorm rstd", rstdCpu, rstdPortable, new Expected(st[1], rstdScale), TOL);
    }

    @ParameterizedTest(name = "rows={0} c={1}")
    @CsvSource({"1,1", "3,17", "17,31", "5,130", "67,33", "2,257"})
    void backwardMatchesFloat64WithAndWithoutAccumulate(int rows, int c) {
        for (int acc = 0; acc <= 1; acc++) {
            SplittableRandom r = Check.rng("layernorm.backward", rows, c, acc);
            boolean accumulate = acc == 1;
            float[] x = randn(r, rows * c, 2.0);
            float[] w = randn(r, c);
            float[] b = randn(r, c);
            float[] dout = randn(r, rows * c);
            float[] out = new float[rows * c];
            float[] meanCpu = new float[rows];
            float[] rstdCpu = new float[rows];
            float[] meanPortable = new float[rows];
            float[] rstdPortable = new float[rows];
            LayerNorm.forwardCpu(x, w, b, out, meanCpu, rstdCpu, rows, c);
            LayerNorm.forward(x, w, 0, b, 0, out, meanPortable, rstdPortable, rows, c);
            double[] xd = toDouble(x);
            double[] dd = toDouble(dout);

            float[] dx0 = initialOutput(r, rows * c, accumulate);
            float[] dxCpu = dx0.clone();
            float[] dxPortable = dx0.clone();
            LayerNorm.backwardInputCpu(dout, x, w, meanCpu, rstdCpu, dxCpu, rows, c, accumulate);
            LayerNorm.backwardInput(dout, x, Check.inSlice(w), Check.SLICE_AT, meanPortable, rstdPortable, dxPortable, rows, c,
                    acc);
            assertBodiesMatch("layernorm dx accumulate=" + acc, dxCpu, dxPortable,
                    backwardInput(dd, xd, toDouble(w), accumulate ? toDouble(dx0) : null, rows, c), TOL);

            float[] dw0 = initialOutput(r, c, accumulate);
            float[] db0 = initialOutput(r, c, accumulate);
            float[] dwCpu = dw0.clone();
            float[] dbCpu = db0.clone();
            float[] dwSlice = Check.inSlice(dw0);
            float[] dbSlice = Check.inSlice(db0);
            LayerNorm.backwardParamsCpu(dout, x, meanCpu, rstdCpu, dwCpu, dbCpu, rows, c, accumulate);
            LayerNorm.backwardParams(dout, x, meanPortable, rstdPortable, dwSlice, Check.SLICE_AT, dbSlice, Check.SLICE_AT, rows,
                    c, acc);
            float[] dwPortable = Check.outOfSlice("layernorm dw", dwSlice, c);
            float[] dbPortable = Check.outOfSlice("layernorm db", dbSlice, c);
            Expected[] ref = backwardParams(dd, xd, accumulate ? toDouble(dw0) : null,
                    accumulate ? toDouble(db0) : null, rows, c);
            assertBodiesMatch("layernorm dw accumulate=" + acc, dwCpu, dwPortable, ref[0], TOL);
            assertBodiesMatch("layernorm db accumulate=" + acc, dbCpu, dbPortable, ref[1], TOL);
        }
    }

    /**
     * The fused CPU backward (dx, then dw and db added to, in one pass with chunked parameter
     * sums) against float64 and the two portable bodies, with rows over several chunks and not
     * a multiple of one; the same bits on a second run.
     */
    @ParameterizedTest(name = "rows={0} c={1}")
    @CsvSource({"1,1", "3,17", "67,33", "130,130", "200,17", "2,257"})
    void fusedBackwardMatchesFloat64(int rows, int c) {
        // the portable params body sums rows + c terms in one chain
        double tol = Math.max(TOL, (rows + c) * 6.0e-8);
        for (int acc = 0; acc <= 1; acc++) {
            SplittableRandom r = Check.rng("layernorm.fused", rows, c, acc);
            boolean accumulate = acc == 1;
            float[] x = randn(r, rows * c, 2.0);
            float[] w = randn(r, c);
            float[] b = randn(r, c);
            float[] dout = randn(r, rows * c);
            float[] mean = new float[rows];
            float[] rstd = new float[rows];
            LayerNorm.forwardCpu(x, w, b, new float[rows * c], mean, rstd, rows, c);
            double[] xd = toDouble(x);
            double[] dd = toDouble(dout);
            float[] dx0 = initialOutput(r, rows * c, accumulate);
            float[] dw0 = randn(r, c);
            float[] db0 = randn(r, c);
            float[] dxCpu = dx0.clone();
            float[] dwCpu = dw0.clone();
            float[] dbCpu = db0.clone();
            LayerNorm.backwardCpu(dout, x, w, mean, rstd, dxCpu, dwCpu, dbCpu, rows, c, accumulate);
            float[] dxPortable = dx0.clone();
            float[] dwPortable = dw0.clone();
            float[] dbPortable = db0.clone();
            LayerNorm.backwardInput(dout, x, w, 0, mean, rstd, dxPortable, rows, c, acc);
            LayerNorm.backwardParams(dout, x, mean, rstd, dwPortable, 0, dbPortable, 0, rows, c, 1);
            assertBodiesMatch("fused layernorm dx accumulate=" + acc, dxCpu, dxPortable,
                    backwardInput(dd, xd, toDouble(w), accumulate ? toDouble(dx0) : null, rows, c), tol);
            Expected[] ref = backwardParams(dd, xd, toDouble(dw0), toDouble(db0), rows, c);
            assertBodiesMatch("fused layernorm dw", dwCpu, dwPortable, ref[0], tol);
            assertBodiesMatch("fused layernorm db", dbCpu, dbPortable, ref[1], tol);

            float[] dxAgain = dx0.clone();
            float[] dwAgain = dw0.clone();
            float[] dbAgain = db0.clone();
            LayerNorm.backwardCpu(dout, x, w, mean, rstd, dxAgain, dwAgain, dbAgain, rows, c, accumulate);
            org.junit.jupiter.api.Assertions.assertArrayEquals(dxCpu, dxAgain, "dx differs on a second run");
            org.junit.jupiter.api.Assertions.assertArrayEquals(dwCpu, dwAgain, "dw differs on a second run");
            org.junit.jupiter.api.Assertions.assertArrayEquals(dbCpu, dbAgain, "db differs on a second run");
        }
    }

    /** L = sum dout * layernorm(x, w, b). */
    @ParameterizedTest(name = "rows={0} c={1}")
    @CsvSource({"1,1", "2,3", "3,17", "2,33"})
    void float64BackwardMatchesFiniteDifferences(int rows, int c) {
        SplittableRandom r = Check.rng("layernorm.fd", rows, c);
        double[] x = toDouble(randn(r, rows * c, 2.0));
        double[] w = toDouble(randn(r, c));
        double[] b = toDouble(randn(r, c));
        double[] dout = toDouble(randn(r, rows * c));
        Expected[] params = backwardParams(dout, x, null, null, rows, c);
        assertMatchesFiniteDifferences("layernorm dx", backwardInput(dout, x, w, null, rows, c).value(),
                v -> Check.dot(dout, forward(v, w, b, rows, c).value()), x);
        assertMatchesFiniteDifferences("layernorm dw", params[0].value(),
                v -> Check.dot(dout, forward(x, v, b, rows, c).value()), w);
        assertMatchesFiniteDifferences("layernorm db", params[1].value(),
                v -> Check.dot(dout, forward(x, w, v, rows, c).value()), b);
    }
}
