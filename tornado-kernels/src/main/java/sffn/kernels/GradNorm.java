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

    /** Gradients per {@link #partialSumsGroup} launch: with the partials and two ints, 11 of a task's 15 arguments. */
    public static final int GROUP = 8;

    /**
     * {@link #partialSums} of the first {@code count} (1 to {@link #GROUP}) of g0 .. g7 in one
     * launch, their slots one after another from {@code base} (as separate calls at base,
     * base + slots(g0.length), ... would write them). The others are one-element stand-ins, not
     * read; sizes are the arrays' lengths (a task's arguments are too few for eight more ints).
     */
    public static void partialSumsGroup(float[] g0, float[] g1, float[] g2, float[] g3, float[] g4, float[] g5,
                                        float[] g6, float[] g7, float[] partials, int base, int count) {
        int e0 = (g0.length + CHUNK - 1) / CHUNK;
        int e1 = e0 + (count > 1 ? (g1.length + CHUNK - 1) / CHUNK : 0);
        int e2 = e1 + (count > 2 ? (g2.length + CHUNK - 1) / CHUNK : 0);
        int e3 = e2 + (count > 3 ? (g3.length + CHUNK - 1) / CHUNK : 0);
        int e4 = e3 + (count > 4 ? (g4.length + CHUNK - 1) / CHUNK : 0);
        int e5 = e4 + (count > 5 ? (g5.length + CHUNK - 1) / CHUNK : 0);
        int e6 = e5 + (count > 6 ? (g6.length + CHUNK - 1) / CHUNK : 0);
        int e7 = e6 + (count > 7 ? (g7.length + CHUNK - 1) / CHUNK : 0);
        // Each branch stores its own sum: with one store after the branches of a float they
        // return, TornadoVM 5.2 (OpenCL on PoCL) stored garbage.
        for (@Parallel int s = 0; s < e7; s++) {
            if (s < e0) {
                chunkSquares(g0, s, g0.length, partials, base + s);
            } else if (s < e1) {
                chunkSquares(g1, s - e0, g1.length, partials, base + s);
            } else if (s < e2) {
                chunkSquares(g2, s - e1, g2.length, partials, base + s);
            } else if (s < e3) {
                chunkSquares(g3, s - e2, g3.length, partials, base + s);
            } else if (s < e4) {
                chunkSquares(g4, s - e3, g4.length, partials, base + s);
            } else if (s < e5) {
                chunkSquares(g5, s - e4, g5.length, partials, base + s);
            } else if (s < e6) {
                chunkSquares(g6, s - e5, g6.length, partials, base + s);
            } else {
                chunkSquares(g7, s - e6, g7.length, partials, base + s);
            }
        }
    }

    /**
     * The partial sums of every gradient in one launch, from arrays that hold the gradients of a
     * kind one after another, each from a multiple of {@link #CHUNK} (zeros between): chunk f of
     * gW's first {@code chunksW * CHUNK} elements, then of gB's, into {@code partials[slotOf[f]]},
     * the slot {@link #partialSums} of the gradient alone gives that chunk (zeros add nothing).
     */
    public static void partialSumsFlat(float[] gW, float[] gB, float[] partials, int[] slotOf, int chunksW, int chunksB) {
        for (@Parallel int f = 0; f < chunksW + chunksB; f++) {
            if (f < chunksW) {
                chunkSquares(gW, f, chunksW * CHUNK, partials, slotOf[f]);
            } else {
                chunkSquares(gB, f - chunksW, chunksB * CHUNK, partials, slotOf[f]);
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

    /**
     * {@link #partialSumsGroup}'s CPU body: each of the first {@code count} gradients as
     * {@link #partialSumsCpu} sums it (the same bits).
     */
    public static void partialSumsGroupCpu(float[] g0, float[] g1, float[] g2, float[] g3, float[] g4, float[] g5,
                                           float[] g6, float[] g7, float[] partials, int base, int count) {
        int at = sumsAt(g0, partials, base);
        if (count > 1) at = sumsAt(g1, partials, at);
        if (count > 2) at = sumsAt(g2, partials, at);
        if (count > 3) at = sumsAt(g3, partials, at);
        if (count > 4) at = sumsAt(g4, partials, at);
        if (count > 5) at = sumsAt(g5, partials, at);
        if (count > 6) at = sumsAt(g6, partials, at);
        if (count > 7) sumsAt(g7, partials, at);
    }

    /** {@link #partialSumsCpu} of g from slot {@code base}; returns the slot after its last. */
    private static int sumsAt(float[] g, float[] partials, int base) {
        partialSumsCpu(g, partials, base, g.length);
        return base + slots(g.length);
    }

    public static void finishCpu(float[] partials, float[] scalars, int count, float maxNorm) {
        finish(partials, scalars, count, maxNorm);
    }
}
