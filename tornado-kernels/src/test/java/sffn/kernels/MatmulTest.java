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

class MatmulTest {
    /**
     * Float32 summation of n terms in any order errs by at most (n-1) u sum|terms| (u = 2^-24);
     * the longest sum here has 67 + 2 terms, so 1e-5 is a worst-case bound, not a fitted one.
     */
    static final double TOL = 1e-5;

    // ---- float64 reference: C[M,N] = A[M,K] B[N,K]^T + bias + C0 -------------------------------

    static Expected forward(double[] a, double[] b, double[] bias, double[] c0, int m, int n, int k) {
        double[] c = new double[m * n];
        double[] mag = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                double t = 0;
                for (int kk = 0; kk < k; kk++) {
                    double p = a[i * k + kk] * b[j * k + kk];
                    s += p;
                    t += Math.abs(p);
                }
                if (bias != null) {
                    s += bias[j];
                    t += Math.abs(bias[j]);
                }
                if (c0 != null) {
                    s += c0[i * n + j];
                    t += Math.abs(c0[i * n + j]);
                }
                c[i * n + j] = s;
                mag[i * n + j] = t;
            }
        }
        return new Expected(c, mag);
    }

    /** dA[i,k] = sum_j dC[i,j] B[j,k] (+ dA0). */
    static Expected backwardInput(double[] dc, double[] b, double[] da0, int m, int n, int k) {
        double[] da = new double[m * k];
        double[] mag = new double[m * k];
        for (int i = 0; i < m; i++) {
            for (int kk = 0; kk < k; kk++) {
                double s = da0 == null ? 0 : da0[i * k + kk];
                double t = Math.abs(s);
                for (int j = 0; j < n; j++) {
                    double p = dc[i * n + j] * b[j * k + kk];
                    s += p;
                    t += Math.abs(p);
                }
                da[i * k + kk] = s;
                mag[i * k + kk] = t;
            }
        }
        return new Expected(da, mag);
    }

    /** dB[j,k] = sum_i dC[i,j] A[i,k] (+ dB0). */
    static Expected backwardWeight(double[] dc, double[] a, double[] db0, int m, int n, int k) {
        double[] db = new double[n * k];
        double[] mag = new double[n * k];
        for (int j = 0; j < n; j++) {
            for (int kk = 0; kk < k; kk++) {
                double s = db0 == null ? 0 : db0[j * k + kk];
                double t = Math.abs(s);
                for (int i = 0; i < m; i++) {
                    double p = dc[i * n + j] * a[i * k + kk];
                    s += p;
                    t += Math.abs(p);
                }
                db[j * k + kk] = s;
                mag[j * k + kk] = t;
            }
        }
        return new Expected(db, mag);
    }

    /** dbias[j] = sum_i dC[i,j] (+ dbias0). */
    static Expected backwardBias(double[] dc, double[] dbias0, int m, int n) {
        double[] db = new double[n];
        double[] mag = new double[n];
        for (int j = 0; j < n; j++) {
            double s = dbias0 == null ? 0 : dbias0[j];
            double t = Math.abs(s);
            for (int i = 0; i < m; i++) {
                s += dc[i * n + j];
                t += Math.abs(dc[i * n + j]);
            }
            db[j] = s;
            mag[j] = t;
        }
        return new Expected(db, mag);
    }

    // ---- tests -------------------------------------------------------------------------------

    @ParameterizedTest(name = "m={0} n={1} k={2}")
    @CsvSource({"1,1,1", "3,17,31", "17,33,67", "31,130,3", "67,5,17", "5,67,33"})
    void forwardMatchesFloat64WithAndWithoutBiasAndAccumulate(int m, int n, int k) {
        for (int hasBias = 0; hasBias <= 1; hasBias++) {
            for (int acc = 0; acc <= 1; acc++) {
                SplittableRandom r = Check.rng("matmul.forward", m, n, k, hasBias, acc);
                float[] a = randn(r, m * k);
                float[] b = randn(r, n * k);
                float[] bias = hasBias == 1 ? randn(r, n) : null;
                float[] c0 = initialOutput(r, m * n, acc == 1);
                float[] cpu = c0.clone();
                float[] portable = c0.clone();
                Matmul.forwardCpu(a, b, bias, cpu, m, n, k, acc == 1);
                Matmul.forward(a, Check.inSlice(b), Check.SLICE_AT, Check.inSlice(hasBias == 1 ? bias : new float[n]), Check.SLICE_AT,
                        portable, m, n, k, hasBias, acc);
                Expected ref = forward(toDouble(a), toDouble(b), bias == null ? null : toDouble(bias),
                        acc == 1 ? toDouble(c0) : null, m, n, k);
                assertBodiesMatch("matmul forward bias=" + hasBias + " accumulate=" + acc, cpu, portable, ref, TOL);
            }
        }
    }

    @ParameterizedTest(name = "m={0} n={1} k={2}")
    @CsvSource({"1,1,1", "3,17,31", "17,33,67", "31,130,3", "67,5,17", "5,67,33"})
    void backwardKernelsMatchFloat64WithAndWithoutAccumulate(int m, int n, int k) {
        for (int acc = 0; acc <= 1; acc++) {
            SplittableRandom r = Check.rng("matmul.backward", m, n, k, acc);
            float[] a = randn(r, m * k);
            float[] b = randn(r, n * k);
            float[] dc = randn(r, m * n);
            boolean accumulate = acc == 1;

            float[] da0 = initialOutput(r, m * k, accumulate);
            float[] daCpu = da0.clone();
            float[] daPortable = da0.clone();
            Matmul.backwardInputCpu(dc, b, daCpu, m, n, k, accumulate);
            Matmul.backwardInput(dc, Check.inSlice(b), Check.SLICE_AT, daPortable, m, n, k, acc);
            assertBodiesMatch("matmul dA accumulate=" + acc, daCpu, daPortable,
                    backwardInput(toDouble(dc), toDouble(b), accumulate ? toDouble(da0) : null, m, n, k), TOL);

            float[] db0 = initialOutput(r, n * k, accumulate);
            float[] dbCpu = db0.clone();
            float[] dbSlice = Check.inSlice(db0);
            Matmul.backwardWeightCpu(dc, a, dbCpu, m, n, k, accumulate);
            Matmul.backwardWeight(dc, a, dbSlice, Check.SLICE_AT, m, n, k, acc);
            float[] dbPortable = Check.outOfSlice("matmul dB", dbSlice, n * k);
            assertBodiesMatch("matmul dB accumulate=" + acc, dbCpu, dbPortable,
                    backwardWeight(toDouble(dc), toDouble(a), accumulate ? toDouble(db0) : null, m, n, k), TOL);

            float[] dbias0 = initialOutput(r, n, accumulate);
            float[] dbiasCpu = dbias0.clone();
            float[] dbiasSlice = Check.inSlice(dbias0);
            Matmul.backwardBiasCpu(dc, dbiasCpu, m, n, accumulate);
            Matmul.backwardBias(dc, dbiasSlice, Check.SLICE_AT, m, n, acc);
            float[] dbiasPortable = Check.outOfSlice("matmul dbias", dbiasSlice, n);
            assertBodiesMatch("matmul dbias accumulate=" + acc, dbiasCpu, dbiasPortable,
                    backwardBias(toDouble(dc), accumulate ? toDouble(dbias0) : null, m, n), TOL);
        }
    }

    /** L = sum dC * C(A, B, bias): its gradients are the three backward products. */
    @ParameterizedTest(name = "m={0} n={1} k={2}")
    @CsvSource({"1,1,1", "5,7,9", "3,17,4"})
    void float64BackwardMatchesFiniteDifferences(int m, int n, int k) {
        SplittableRandom r = Check.rng("matmul.fd", m, n, k);
        double[] a = toDouble(randn(r, m * k));
        double[] b = toDouble(randn(r, n * k));
        double[] bias = toDouble(randn(r, n));
        double[] dc = toDouble(randn(r, m * n));
        assertMatchesFiniteDifferences("matmul dA", backwardInput(dc, b, null, m, n, k).value(),
                x -> Check.dot(dc, forward(x, b, bias, null, m, n, k).value()), a);
        assertMatchesFiniteDifferences("matmul dB", backwardWeight(dc, a, null, m, n, k).value(),
                x -> Check.dot(dc, forward(a, x, bias, null, m, n, k).value()), b);
        assertMatchesFiniteDifferences("matmul dbias", backwardBias(dc, null, m, n).value(),
                x -> Check.dot(dc, forward(a, b, x, null, m, n, k).value()), bias);
    }
}
