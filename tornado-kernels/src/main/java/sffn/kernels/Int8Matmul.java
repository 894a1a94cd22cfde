package sffn.kernels;

import sffn.kernels.cpu.Int8Gemm;
import uk.ac.manchester.tornado.api.annotations.Parallel;

/**
 * Decoding's products with int8 weights and a float32 scale per group of {@code g} weights along
 * the input dimension ({@link Int8Groups}), read as stored: per group, {@code p = sum a q} over
 * the group's weights converted to float inside the loop, then {@code acc += p * scale}.
 *
 * <pre>
 *   forward:   C[M,N] (+)= A[M,K] . W[N,K]^T              q [N, K], scale [N, ceil(K/g)]
 *   blockDiag: y[r, b*q+i] (+)= sum_j w[b,i,j] x[r, b*p+j] q [nb, q, p], scale [nb, q, ceil(p/g)]
 * </pre>
 *
 * {@code accumulate} is 1 to add into the output, 0 to overwrite it. Portable bodies (plain
 * loops, the reference and what TornadoVM compiles) and CPU bodies ({@link Int8Gemm}).
 */
public final class Int8Matmul {
    private Int8Matmul() {
    }

    // ---- portable bodies -------------------------------------------------------------------

    public static void forward(float[] a, byte[] w, float[] scale, float[] c, int m, int n, int k, int g,
                               int accumulate) {
        int groups = (k + g - 1) / g;
        for (@Parallel int i = 0; i < m; i++) {
            for (@Parallel int j = 0; j < n; j++) {
                float s = 0f;
                for (int gi = 0; gi < groups; gi++) {
                    float part = 0f;
                    int end = Math.min(k, gi * g + g);
                    for (int kk = gi * g; kk < end; kk++) {
                        part += a[i * k + kk] * (float) w[j * k + kk];
                    }
                    s += part * scale[j * groups + gi];
                }
                if (accumulate == 1) {
                    s += c[i * n + j];
                }
                c[i * n + j] = s;
            }
        }
    }

    public static void blockDiagForward(float[] x, byte[] w, float[] scale, float[] y, int rows, int nb, int q, int p,
                                        int g, int accumulate) {
        int groups = (p + g - 1) / g;
        for (@Parallel int r = 0; r < rows; r++) {
            for (@Parallel int o = 0; o < nb * q; o++) {
                int b = o / q;
                float s = 0f;
                for (int gi = 0; gi < groups; gi++) {
                    float part = 0f;
                    int end = Math.min(p, gi * g + g);
                    for (int j = gi * g; j < end; j++) {
                        part += (float) w[o * p + j] * x[r * nb * p + b * p + j];
                    }
                    s += part * scale[o * groups + gi];
                }
                if (accumulate == 1) {
                    s += y[r * nb * q + o];
                }
                y[r * nb * q + o] = s;
            }
        }
    }

    // ---- CPU bodies ------------------------------------------------------------------------

    public static void forwardCpu(float[] a, byte[] w, float[] scale, float[] c, int m, int n, int k, boolean accumulate) {
        Int8Gemm.gemm(m, n, k, a, 0, k, w, 0, scale, 0, c, 0, n, accumulate);
    }

    public static void blockDiagForwardCpu(float[] x, byte[] w, float[] scale, float[] y, int rows, int nb, int q, int p,
                                           boolean accumulate) {
        Int8Gemm.blockDiag(x, w, scale, y, rows, nb, q, p, accumulate);
    }
}
