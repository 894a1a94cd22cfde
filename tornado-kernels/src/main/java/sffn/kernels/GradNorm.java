package sffn.kernels;

import jdk.incubator.vector.FloatVector;
import sffn.kernels.cpu.Vec;
import sffn.kernels.cpu.Workers;
import uk.ac.manchester.tornado.api.annotations.Parallel;

/**
 * Global gradient norm and the clipping factor, deterministically: every gradient tensor is cut
 * into fixed chunks of {@link #CHUNK} elements; each chunk's sum of squares goes to its own
 * slot of {@code partials} (from {@code base}); {@link #finish} then adds all slots in order and
 * writes {@code GRAD_NORM} and {@code CLIP_SCALE = min(1, maxNorm / (norm + 1e-6))} into the
 * step scalars. The result never depends on thread count or timing.
 */
public final class GradNorm {
    public static final int CHUNK = 4096;

    private GradNorm() {
    }

    /** Slots a tensor of {@code n} elements needs in {@code partials}. */
    public static int slots(int n) {
        return (n + CHUNK - 1) / CHUNK;
    }

    // ---- portable bodies -------------------------------------------------------------------

    public static void partialSums(float[] g, float[] partials, int base, int n) {
        for (@Parallel int c = 0; c < (n + CHUNK - 1) / CHUNK; c++) {
            chunkSquares(g, c, n, partials, base + c);
        }
    }

    /**
     * {@link #partialSums} of four gradients in one launch, their slots one after another from
     * {@code base} (as four calls at base, base + slots(na), ... would write them).
     */
    public static void partialSumsFour(float[] a, float[] b, float[] c, float[] d, float[] partials, int base, int na,
                                       int nb, int nc, int nd) {
        int sa = (na + CHUNK - 1) / CHUNK;
        int sb = (nb + CHUNK - 1) / CHUNK;
        int sc = (nc + CHUNK - 1) / CHUNK;
        int sd = (nd + CHUNK - 1) / CHUNK;
        // Each branch stores its own sum: with one store after the branches of a float they
        // return, TornadoVM 5.2 (OpenCL on PoCL) stored garbage.
        for (@Parallel int s = 0; s < sa + sb + sc + sd; s++) {
            if (s < sa) {
                chunkSquares(a, s, na, partials, base + s);
            } else if (s < sa + sb) {
                chunkSquares(b, s - sa, nb, partials, base + s);
            } else if (s < sa + sb + sc) {
                chunkSquares(c, s - sa - sb, nc, partials, base + s);
            } else {
                chunkSquares(d, s - sa - sb - sc, nd, partials, base + s);
            }
        }
    }

    /** {@code partials[slot]} = the sum of squares of chunk c of g's n elements, in order. */
    private static void chunkSquares(float[] g, int c, int n, float[] partials, int slot) {
        float s = 0f;
        int end = Math.min(n, (c + 1) * CHUNK);
        for (int i = c * CHUNK; i < end; i++) {
            s += g[i] * g[i];
        }
        partials[slot] = s;
    }

    public static void finish(float[] partials, float[] scalars, int count, float maxNorm) {
        float s = 0f;
        for (int i = 0; i < count; i++) {
            s += partials[i];
        }
        float norm = (float) Math.sqrt(s);
        scalars[StepScalars.GRAD_NORM] = norm;
        float clip = 1f;
        if (maxNorm > 0f && norm > maxNorm) {
            clip = maxNorm / (norm + 1e-6f);
        }
        scalars[StepScalars.CLIP_SCALE] = clip;
    }

    // ---- CPU bodies ------------------------------------------------------------------------

    public static void partialSumsCpu(float[] g, float[] partials, int base, int n) {
        Workers.pool().parallelFor(slots(n), 4, (from, to) -> {
            for (int c = from; c < to; c++) {
                int start = c * CHUNK;
                int end = Math.min(n, start + CHUNK);
                FloatVector acc = FloatVector.zero(Vec.S);
                int i = start;
                for (; i <= end - Vec.L; i += Vec.L) {
                    FloatVector x = FloatVector.fromArray(Vec.S, g, i);
                    acc = x.fma(x, acc);
                }
                float s = Vec.sumLanes(acc);
                for (; i < end; i++) s += g[i] * g[i];
                partials[base + c] = s;
            }
        });
    }

    public static void partialSumsFourCpu(float[] a, float[] b, float[] c, float[] d, float[] partials, int base, int na,
                                          int nb, int nc, int nd) {
        partialSumsCpu(a, partials, base, na);
        partialSumsCpu(b, partials, base + slots(na), nb);
        partialSumsCpu(c, partials, base + slots(na) + slots(nb), nc);
        partialSumsCpu(d, partials, base + slots(na) + slots(nb) + slots(nc), nd);
    }

    public static void finishCpu(float[] partials, float[] scalars, int count, float maxNorm) {
        finish(partials, scalars, count, maxNorm);
    }
}
