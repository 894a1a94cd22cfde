package sffn.kernels;

import sffn.kernels.cpu.Vec;
import sffn.kernels.cpu.Workers;
import uk.ac.manchester.tornado.api.annotations.Parallel;

/**
 * Token and absolute-position embeddings.
 *
 * <pre>
 *   forward:           out[r, :] = wte[tokens[r], :]
 *   addPositions:      out[r, :] += wpe[posOffset + r % seqLen, :]
 *   backward:          dwte[tokens[r], :] += dout[r, :]          (scatter-add, always accumulates)
 *   positionsBackward: dwpe[t, :] += sum_b dout[b*seqLen + t, :]
 * </pre>
 * The scatter-add gives each thread its own columns and walks the rows in order, so two rows
 * with the same token never race and the sum order is fixed.
 */
public final class Embedding {
    private static final int COLUMN_BLOCK = 64;

    private Embedding() {
    }

    // ---- portable bodies -------------------------------------------------------------------

    public static void forward(int[] tokens, float[] wte, int wteOff, float[] out, int rows, int c) {
        for (@Parallel int r = 0; r < rows; r++) {
            for (@Parallel int j = 0; j < c; j++) {
                out[r * c + j] = wte[wteOff + tokens[r] * c + j];
            }
        }
    }

    public static void addPositions(float[] wpe, int wpeOff, float[] out, int rows, int seqLen, int posOffset, int c) {
        for (@Parallel int r = 0; r < rows; r++) {
            for (@Parallel int j = 0; j < c; j++) {
                out[r * c + j] += wpe[wpeOff + (posOffset + r % seqLen) * c + j];
            }
        }
    }

    /** {@link #addPositions} with the position offset read from {@code pos[0]} (decoding). */
    public static void addPositionsAt(float[] wpe, int wpeOff, float[] out, int[] pos, int rows, int seqLen, int c) {
        for (@Parallel int r = 0; r < rows; r++) {
            for (@Parallel int j = 0; j < c; j++) {
                out[r * c + j] += wpe[wpeOff + (pos[0] + r % seqLen) * c + j];
            }
        }
    }

    public static void backward(int[] tokens, float[] dout, float[] dwte, int dwteOff, int rows, int c) {
        for (@Parallel int j = 0; j < c; j++) {
            for (int r = 0; r < rows; r++) {
                dwte[dwteOff + tokens[r] * c + j] += dout[r * c + j];
            }
        }
    }

    public static void positionsBackward(float[] dout, float[] dwpe, int dwpeOff, int rows, int seqLen, int c) {
        for (@Parallel int t = 0; t < seqLen; t++) {
            for (@Parallel int j = 0; j < c; j++) {
                float s = 0f;
                for (int r = t; r < rows; r += seqLen) {
                    s += dout[r * c + j];
                }
                dwpe[dwpeOff + t * c + j] += s;
            }
        }
    }

    // ---- CPU bodies ------------------------------------------------------------------------

    public static void forwardCpu(int[] tokens, float[] wte, float[] out, int rows, int c) {
        Workers.pool().parallelFor(rows, (long) rows * c, (from, to) -> {
            for (int r = from; r < to; r++) System.arraycopy(wte, tokens[r] * c, out, r * c, c);
        });
    }

    public static void addPositionsCpu(float[] wpe, float[] out, int rows, int seqLen, int posOffset, int c) {
        Workers.pool().parallelFor(rows, (from, to) -> {
            for (int r = from; r < to; r++) Vec.axpy(1f, wpe, (posOffset + r % seqLen) * c, out, r * c, c);
        });
    }

    public static void backwardCpu(int[] tokens, float[] dout, float[] dwte, int rows, int c) {
        int blocks = (c + COLUMN_BLOCK - 1) / COLUMN_BLOCK;
        Workers.pool().parallelFor(blocks, 1, (from, to) -> {
            for (int blk = from; blk < to; blk++) {
                int j0 = blk * COLUMN_BLOCK;
                int w = Math.min(COLUMN_BLOCK, c - j0);
                for (int r = 0; r < rows; r++) Vec.axpy(1f, dout, r * c + j0, dwte, tokens[r] * c + j0, w);
            }
        });
    }

    public static void positionsBackwardCpu(float[] dout, float[] dwpe, int rows, int seqLen, int c) {
        Workers.pool().parallelFor(seqLen, (from, to) -> {
            for (int t = from; t < to; t++) {
                for (int r = t; r < rows; r += seqLen) Vec.axpy(1f, dout, r * c, dwpe, t * c, c);
            }
        });
    }
}
