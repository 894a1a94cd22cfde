package sffn.kernels;

import sffn.kernels.cpu.Bf16Gemm;
import uk.ac.manchester.tornado.api.annotations.Parallel;

/**
 * Decoding's products with bfloat16 weights ({@link Bf16}), read as stored: the weight is widened
 * per element ({@code bits << 16} reinterpreted as float) inside the loop, never copied to float.
 *
 * <pre>
 *   forward:   C[M,N] (+)= A[M,K] . W[N,K]^T                       W: bf16 bits, [out, in]
 *   blockDiag: y[r, b*q+i] (+)= sum_j w[b,i,j] x[r, b*p+j]          w: bf16 bits, [nb, q, p]
 * </pre>
 *
 * {@code accumulate} is 1 to add into the output, 0 to overwrite it. Portable bodies (plain
 * loops, the reference and what TornadoVM compiles) and CPU bodies ({@link Bf16Gemm}).
 */
public final class Bf16Matmul {
    private Bf16Matmul() {
    }

    // ---- portable bodies -------------------------------------------------------------------

    public static void forward(float[] a, short[] w, float[] c, int m, int n, int k, int accumulate) {
        for (@Parallel int i = 0; i < m; i++) {
            for (@Parallel int j = 0; j < n; j++) {
                float s = 0f;
                for (int kk = 0; kk < k; kk++) {
                    s += a[i * k + kk] * Bf16.decode(w[j * k + kk]);
                }
                if (accumulate == 1) {
                    s += c[i * n + j];
                }
                c[i * n + j] = s;
            }
        }
    }

    public static void blockDiagForward(float[] x, short[] w, float[] y, int rows, int nb, int q, int p, int accumulate) {
        for (@Parallel int r = 0; r < rows; r++) {
            for (@Parallel int o = 0; o < nb * q; o++) {
                int b = o / q;
                float s = 0f;
                for (int j = 0; j < p; j++) {
                    s += Bf16.decode(w[o * p + j]) * x[r * nb * p + b * p + j];
                }
                if (accumulate == 1) {
                    s += y[r * nb * q + o];
                }
                y[r * nb * q + o] = s;
            }
        }
    }

    // ---- CPU bodies ------------------------------------------------------------------------

    public static void forwardCpu(float[] a, short[] w, float[] c, int m, int n, int k, boolean accumulate) {
        Bf16Gemm.gemm(m, n, k, a, 0, k, w, 0, c, 0, n, accumulate);
    }

    public static void blockDiagForwardCpu(float[] x, short[] w, float[] y, int rows, int nb, int q, int p,
                                           boolean accumulate) {
        Bf16Gemm.blockDiag(x, w, y, rows, nb, q, p, accumulate);
    }
}
