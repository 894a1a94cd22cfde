package sffn.kernels;

import sffn.kernels.cpu.Sgemm;
import uk.ac.manchester.tornado.api.annotations.Parallel;

/**
 * Block-diagonal batched matmul, the building block of BlockDense and BlockShuffle:
 * {@code nb} independent blocks, block {@code b} maps {@code x[r, b*p .. b*p+p)} to
 * {@code y[r, b*q .. b*q+q)} with {@code w[b]} of shape [q, p].
 *
 * <pre>
 *   forward:        y[r, b*q+i]  (+)= sum_j w[b,i,j] x[r, b*p+j]       x [R, nb*p], y [R, nb*q]
 *   backwardInput:  dx[r, b*p+j] (+)= sum_i w[b,i,j] dy[r, b*q+i]
 *   backwardWeight: dw[b,i,j]    (+)= sum_r dy[r, b*q+i] x[r, b*p+j]    w, dw [nb, q, p]
 * </pre>
 */
public final class BlockDiagMatmul {
    private BlockDiagMatmul() {
    }

    // ---- portable bodies -------------------------------------------------------------------

    public static void forward(float[] x, float[] w, float[] y, int rows, int nb, int q, int p, int accumulate) {
        for (@Parallel int r = 0; r < rows; r++) {
            for (@Parallel int o = 0; o < nb * q; o++) {
                int b = o / q;
                float s = 0f;
                for (int j = 0; j < p; j++) {
                    s += w[o * p + j] * x[r * nb * p + b * p + j];
                }
                if (accumulate == 1) {
                    s += y[r * nb * q + o];
                }
                y[r * nb * q + o] = s;
            }
        }
    }

    public static void backwardInput(float[] dy, float[] w, float[] dx, int rows, int nb, int q, int p, int accumulate) {
        for (@Parallel int r = 0; r < rows; r++) {
            for (@Parallel int o = 0; o < nb * p; o++) {
                int b = o / p;
                int j = o - b * p;
                float s = 0f;
                for (int i = 0; i < q; i++) {
                    s += w[(b * q + i) * p + j] * dy[r * nb * q + b * q + i];
                }
                if (accumulate == 1) {
                    s += dx[r * nb * p + o];
                }
                dx[r * nb * p + o] = s;
            }
        }
    }

    public static void backwardWeight(float[] dy, float[] x, float[] dw, int rows, int nb, int q, int p, int accumulate) {
        for (@Parallel int bi = 0; bi < nb * q; bi++) {
            for (@Parallel int j = 0; j < p; j++) {
                int b = bi / q;
                float s = 0f;
                for (int r = 0; r < rows; r++) {
                    s += dy[r * nb * q + bi] * x[r * nb * p + b * p + j];
                }
                if (accumulate == 1) {
                    s += dw[bi * p + j];
                }
                dw[bi * p + j] = s;
            }
        }
    }

    // ---- CPU bodies: one strided GEMM per block ---------------------------------------------

    public static void forwardCpu(float[] x, float[] w, float[] y, int rows, int nb, int q, int p, boolean accumulate) {
        for (int b = 0; b < nb; b++) {
            Sgemm.gemm(false, true, rows, q, p, x, b * p, nb * p, w, b * q * p, p, y, b * q, nb * q, accumulate);
        }
    }

    public static void backwardInputCpu(float[] dy, float[] w, float[] dx, int rows, int nb, int q, int p, boolean accumulate) {
        for (int b = 0; b < nb; b++) {
            Sgemm.gemm(false, false, rows, p, q, dy, b * q, nb * q, w, b * q * p, p, dx, b * p, nb * p, accumulate);
        }
    }

    public static void backwardWeightCpu(float[] dy, float[] x, float[] dw, int rows, int nb, int q, int p, boolean accumulate) {
        for (int b = 0; b < nb; b++) {
            Sgemm.gemm(true, false, q, p, rows, dy, b * q, nb * q, x, b * p, nb * p, dw, b * q * p, p, accumulate);
        }
    }

}
