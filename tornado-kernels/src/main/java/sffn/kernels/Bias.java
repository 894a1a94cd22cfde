package sffn.kernels;

import jdk.incubator.vector.FloatVector;
import sffn.kernels.cpu.Vec;
import sffn.kernels.cpu.Workers;
import uk.ac.manchester.tornado.api.annotations.Parallel;

/** Bias over rows: {@code y[i,j] += bias[j]}; its gradient {@code dbias[j] (+)= sum_i dy[i,j]}. */
public final class Bias {
    private static final int COLUMN_BLOCK = 256;

    private Bias() {
    }

    public static void add(float[] y, float[] bias, int biasOff, int rows, int cols) {
        for (@Parallel int i = 0; i < rows; i++) {
            for (@Parallel int j = 0; j < cols; j++) {
                y[i * cols + j] += bias[biasOff + j];
            }
        }
    }

    public static void backward(float[] dy, float[] dbias, int dbiasOff, int rows, int cols, int accumulate) {
        Matmul.backwardBias(dy, dbias, dbiasOff, rows, cols, accumulate);
    }

    public static void addCpu(float[] y, float[] bias, int rows, int cols) {
        Workers.pool().parallelFor(rows, (long) rows * cols, (from, to) -> {
            for (int i = from; i < to; i++) {
                int o = i * cols;
                int j = 0;
                for (; j <= cols - Vec.L; j += Vec.L) {
                    FloatVector.fromArray(Vec.S, y, o + j).add(FloatVector.fromArray(Vec.S, bias, j)).intoArray(y, o + j);
                }
                for (; j < cols; j++) y[o + j] += bias[j];
            }
        });
    }

    /** Column blocks go to threads; each sums its rows in order, so the result is thread-count free. */
    public static void backwardCpu(float[] dy, float[] dbias, int rows, int cols, boolean accumulate) {
        int blocks = (cols + COLUMN_BLOCK - 1) / COLUMN_BLOCK;
        Workers.pool().parallelFor(blocks, 1, (from, to) -> {
            for (int blk = from; blk < to; blk++) {
                int j0 = blk * COLUMN_BLOCK;
                int w = Math.min(COLUMN_BLOCK, cols - j0);
                if (!accumulate) java.util.Arrays.fill(dbias, j0, j0 + w, 0f);
                for (int i = 0; i < rows; i++) {
                    Vec.axpy(1f, dy, i * cols + j0, dbias, j0, w);
                }
            }
        });
    }
}
