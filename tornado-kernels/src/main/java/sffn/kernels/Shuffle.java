package sffn.kernels;

import sffn.kernels.cpu.Workers;
import uk.ac.manchester.tornado.api.annotations.Parallel;

/**
 * The Monarch shuffle of BlockShuffle: per row, the vector read as an (a, b) matrix is written
 * transposed, as (b, a): {@code out[r, j*a + i] = in[r, i*b + j]}. Its backward is the same
 * kernel with a and b swapped.
 */
public final class Shuffle {
    private Shuffle() {
    }

    public static void forward(float[] in, float[] out, int rows, int a, int b) {
        for (@Parallel int r = 0; r < rows; r++) {
            for (@Parallel int o = 0; o < a * b; o++) {
                int j = o / a;
                int i = o - j * a;
                out[r * a * b + o] = in[r * a * b + i * b + j];
            }
        }
    }

    public static void forwardCpu(float[] in, float[] out, int rows, int a, int b) {
        int n = a * b;
        Workers.pool().parallelFor(rows, (from, to) -> {
            for (int r = from; r < to; r++) {
                int base = r * n;
                for (int i = 0; i < a; i++) {
                    int src = base + i * b;
                    for (int j = 0; j < b; j++) {
                        out[base + j * a + i] = in[src + j];
                    }
                }
            }
        });
    }
}
