package sffn.kernels;

import sffn.kernels.cpu.Sgemm;
import uk.ac.manchester.tornado.api.annotations.Parallel;

/**
 * Dense matmul with the weight in PyTorch's [out, in] layout, and the two products backward needs.
 *
 * <pre>
 *   forward:        C[M,N]  (+)= A[M,K] . B[N,K]^T (+ bias[N])
 *   backwardInput:  dA[M,K] (+)= dC[M,N] . B[N,K]
 *   backwardWeight: dB[N,K] (+)= dC[M,N]^T . A[M,K]
 *   backwardBias:   dbias[N] (+)= sum_i dC[i,N]
 * </pre>
 *
 * {@code accumulate} is 1 to add into the output, 0 to overwrite it.
 */
public final class Matmul {
    private Matmul() {
    }

    // ---- portable bodies -------------------------------------------------------------------

    public static void forward(float[] a, float[] b, float[] bias, float[] c, int m, int n, int k,
                               int hasBias, int accumulate) {
        for (@Parallel int i = 0; i < m; i++) {
            for (@Parallel int j = 0; j < n; j++) {
                float s = 0f;
                for (int kk = 0; kk < k; kk++) {
                    s += a[i * k + kk] * b[j * k + kk];
                }
                if (hasBias == 1) {
                    s += bias[j];
                }
                if (accumulate == 1) {
                    s += c[i * n + j];
                }
                c[i * n + j] = s;
            }
        }
    }

    public static void backwardInput(float[] dc, float[] b, float[] da, int m, int n, int k, int accumulate) {
        for (@Parallel int i = 0; i < m; i++) {
            for (@Parallel int kk = 0; kk < k; kk++) {
                float s = 0f;
                for (int j = 0; j < n; j++) {
                    s += dc[i * n + j] * b[j * k + kk];
                }
                if (accumulate == 1) {
                    s += da[i * k + kk];
                }
                da[i * k + kk] = s;
            }
        }
    }

    public static void backwardWeight(float[] dc, float[] a, float[] db, int m, int n, int k, int accumulate) {
        for (@Parallel int j = 0; j < n; j++) {
            for (@Parallel int kk = 0; kk < k; kk++) {
                float s = 0f;
                for (int i = 0; i < m; i++) {
                    s += dc[i * n + j] * a[i * k + kk];
                }
                if (accumulate == 1) {
                    s += db[j * k + kk];
                }
                db[j * k + kk] = s;
            }
        }
    }

    public static void backwardBias(float[] dc, float[] dbias, int m, int n, int accumulate) {
        for (@Parallel int j = 0; j < n; j++) {
            float s = 0f;
            for (int i = 0; i < m; i++) {
                s += dc[i * n + j];
            }
            if (accumulate == 1) {
                s += dbias[j];
            }
            dbias[j] = s;
        }
    }

    // ---- CPU bodies ------------------------------------------------------------------------

    public static void forwardCpu(float[] a, float[] b, float[] bias, float[] c, int m, int n, int k,
                                  boolean accumulate) {
        Sgemm.gemm(false, true, m, n, k, a, 0, k, b, 0, k, c, 0, n, accumulate);
        if (bias != null) {
            Bias.addCpu(c, bias, m, n);
        }
    }

    public static void backwardInputCpu(float[] dc, float[] b, float[] da, int m, int n, int k, boolean accumulate) {
        Sgemm.gemm(false, false, m, k, n, dc, 0, n, b, 0, k, da, 0, k, accumulate);
    }

    public static void backwardWeightCpu(float[] dc, float[] a, float[] db, int m, int n, int k, boolean accumulate) {
        Sgemm.gemm(true, false, n, k, m, dc, 0, n, a, 0, k, db, 0, k, accumulate);
    }

    public static void backwardBiasCpu(float[] dc, float[] dbias, int m, int n, boolean accumulate) {
        Bias.backwardCpu(dc, dbias, m, n, accumulate);
    }
}
