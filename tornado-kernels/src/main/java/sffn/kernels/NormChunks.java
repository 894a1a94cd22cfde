package sffn.kernels;

import jdk.incubator.vector.FloatVector;
import sffn.kernels.cpu.Scratch;
import sffn.kernels.cpu.Vec;
import sffn.kernels.cpu.Workers;

/**
 * The fixed row chunks of the fused norm backwards' CPU bodies: each chunk sums its rows'
 * parameter gradients from zero into its own slice of a buffer, and the slices are then added to
 * the gradients in chunk order. Chunks depend on the row count alone, so the sums do not depend
 * on the thread count or on timing.
 */
final class NormChunks {
    /** Rows per chunk: 4096 training rows give 64 chunks, enough to balance any core count here. */
    static final int ROWS = 64;

    /** The calling thread's buffer of partial sums (grown once, then reused). */
    static final Scratch BUFFER = new Scratch();

    private NormChunks() {
    }

    static int count(int rows) {
        return (rows + ROWS - 1) / ROWS;
    }

    /**
     * {@code out[j] += part[off + q*stride + j]} for q = 0, 1, ... chunks-1 in that order, j < c;
     * columns are split over the threads.
     */
    static void addInOrder(float[] part, int chunks, int stride, int off, float[] out, int c) {
        int blocks = (c + Vec.L - 1) / Vec.L;
        Workers.pool().parallelFor(blocks, Math.max(1, blocks / (4 * Workers.pool().threads())), (from, to) -> {
            int j0 = from * Vec.L;
            int j1 = Math.min(c, to * Vec.L);
            int j = j0;
            for (; j <= j1 - Vec.L; j += Vec.L) {
                FloatVector acc = FloatVector.fromArray(Vec.S, out, j);
                for (int q = 0; q < chunks; q++) acc = acc.add(FloatVector.fromArray(Vec.S, part, off + q * stride + j));
                acc.intoArray(out, j);
            }
            for (; j < j1; j++) {
                float acc = out[j];
                for (int q = 0; q < chunks; q++) acc += part[off + q * stride + j];
                out[j] = acc;
            }
        });
    }
}
