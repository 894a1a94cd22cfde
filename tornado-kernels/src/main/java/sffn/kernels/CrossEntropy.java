package sffn.kernels;

import jdk.incubator.vector.FloatVector;
import sffn.kernels.cpu.Vec;
import sffn.kernels.cpu.Workers;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.annotations.Parallel;

/**
 * Softmax cross-entropy over the vocabulary, per row:
 * {@code loss = logsumexp(logits) - logits[target]}; a negative target is ignored (loss 0,
 * gradient 0). The mean is taken by the caller: the gradient is scaled by
 * {@code scalars[LOSS_SCALE]} (one over the targets counted in the whole step), so
 * {@code dlogits = scale * (softmax - onehot(target))}. {@code dlogits} may be the logits array.
 *
 * <p>A TornadoVM task must not take one array twice (5.2's task-graph compiler never finishes
 * scheduling the self-dependency), so the in-place gradient training uses has its own portable
 * body, {@link #forwardBackwardInPlace}. The row KernelContext bodies (GPUs) reduce each row's
 * max and sum of exponentials in a work-group of {@link WorkGroups#ROW} work-items with a fixed
 * tree in local memory; grid {@code rows * ROW} in groups of {@code ROW}.
 */
public final class CrossEntropy {
    private CrossEntropy() {
    }

    // ---- portable bodies -------------------------------------------------------------------

    public static void forward(float[] logits, int[] targets, float[] losses, int rows, int v) {
        for (@Parallel int r = 0; r < rows; r++) {
            int o = r * v;
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < v; j++) {
                max = Math.max(max, logits[o + j]);
            }
            float sum = 0f;
            for (int j = 0; j < v; j++) {
                sum += (float) Math.exp(logits[o + j] - max);
            }
            int t = targets[r];
            if (t >= 0) {
                losses[r] = (float) Math.log(sum) + max - logits[o + t];
            } else {
                losses[r] = 0f;
            }
        }
    }

    public static void forwardBackward(float[] logits, int[] targets, float[] losses, float[] dlogits, float[] scalars,
                                       int rows, int v) {
        for (@Parallel int r = 0; r < rows; r++) {
            int o = r * v;
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < v; j++) {
                max = Math.max(max, logits[o + j]);
            }
            float sum = 0f;
            for (int j = 0; j < v; j++) {
                sum += (float) Math.exp(logits[o + j] - max);
            }
            int t = targets[r];
            float scale = scalars[StepScalars.LOSS_SCALE];
            if (t >= 0) {
                losses[r] = (float) Math.log(sum) + max - logits[o + t];
            } else {
                losses[r] = 0f;
                scale = 0f;
            }
            float inv = 1f / sum;
            for (int j = 0; j < v; j++) {
                float p = (float) Math.exp(logits[o + j] - max) * inv;
                if (j == t) {
                    p = p - 1f;
                }
                dlogits[o + j] = scale * p;
            }
        }
    }

    /** {@link #forwardBackward} with the gradient written over the logits. */
    public static void forwardBackwardInPlace(float[] logits, int[] targets, float[] losses, float[] scalars,
                                              int rows, int v) {
        for (@Parallel int r = 0; r < rows; r++) {
            int o = r * v;
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < v; j++) {
                max = Math.max(max, logits[o + j]);
            }
            float sum = 0f;
            for (int j = 0; j < v; j++) {
                sum += (float) Math.exp(logits[o + j] - max);
            }
            int t = targets[r];
            float scale = scalars[StepScalars.LOSS_SCALE];
            if (t >= 0) {
                losses[r] = (float) Math.log(sum) + max - logits[o + t];
            } else {
                losses[r] = 0f;
                scale = 0f;
            }
            float inv = 1f / sum;
            for (int j = 0; j < v; j++) {
                float p = (float) Math.exp(logits[o + j] - max) * inv;
                if (j == t) {
                    p = p - 1f;
                }
                logits[o + j] = scale * p;
            }
        }
    }

    // ---- row KernelContext bodies (GPUs; see the class comment for the grid) ---------------

    public static void forwardRows(KernelContext ctx, float[] logits, int[] targets, float[] losses, int v) {
        int r = ctx.groupIdx;
        int l = ctx.localIdx;
        int o = r * v;
        float[] part = ctx.allocateFloatLocalArray(WorkGroups.ROW);
        float max = Float.NEGATIVE_INFINITY;
        for (int j = l; j < v; j += WorkGroups.ROW) {
            max = Math.max(max, logits[o + j]);
        }
        max = WorkGroups.maxRow(ctx, part, max);
        float sum = 0f;
        for (int j = l; j < v; j += WorkGroups.ROW) {
            sum += (float) Math.exp(logits[o + j] - max);
        }
        sum = WorkGroups.sumRow(ctx, part, sum);
        if (l == 0) {
            int t = targets[r];
            if (t >= 0) {
                losses[r] = (float) Math.log(sum) + max - logits[o + t];
            } else {
                losses[r] = 0f;
            }
        }
    }

    public static void forwardBackwardInPlaceRows(KernelContext ctx, float[] logits, int[] targets, float[] losses,
                                                  float[] scalars, int v) {
        int r = ctx.groupIdx;
        int l = ctx.localIdx;
        int o = r * v;
        float[] part = ctx.allocateFloatLocalArray(WorkGroups.ROW);
        float max = Float.NEGATIVE_INFINITY;
        for (int j = l; j < v; j += WorkGroups.ROW) {
            max = Math.max(max, logits[o + j]);
        }
        max = WorkGroups.maxRow(ctx, part, max);
        float sum = 0f;
        for (int j = l; j < v; j += WorkGroups.ROW) {
            sum += (float) Math.exp(logits[o + j] - max);
        }
        sum = WorkGroups.sumRow(ctx, part, sum);
        int t = targets[r];
        float scale = scalars[StepScalars.LOSS_SCALE];
        if (t < 0) {
            scale = 0f;
        }
        // Every work-item has read what it needs of the row before any overwrites it.
        float target = 0f;
        if (t >= 0) {
            target = logits[o + t];
        }
        ctx.localBarrier();
        if (l == 0) {
            if (t >= 0) {
                losses[r] = (float) Math.log(sum) + max - target;
            } else {
                losses[r] = 0f;
            }
        }
        float inv = 1f / sum;
        for (int j = l; j < v; j += WorkGroups.ROW) {
            float p = (float) Math.exp(logits[o + j] - max) * inv;
            if (j == t) {
                p = p - 1f;
            }
            logits[o + j] = scale * p;
        }
    }

    // ---- CPU bodies ------------------------------------------------------------------------

    public static void forwardCpu(float[] logits, int[] targets, float[] losses, int rows, int v) {
        Workers.pool().parallelFor(rows, 1, (from, to) -> {
            for (int r = from; r < to; r++) {
                int o = r * v;
                float max = Vec.max(logits, o, v);
                float sum = expSum(logits, o, v, max);
                int t = targets[r];
                losses[r] = t >= 0 ? (float) Math.log(sum) + max - logits[o + t] : 0f;
            }
        });
    }

    public static void forwardBackwardCpu(float[] logits, int[] targets, float[] losses, float[] dlogits,
                                          float[] scalars, int rows, int v) {
        Workers.pool().parallelFor(rows, 1, (from, to) -> {
            for (int r = from; r < to; r++) {
                int o = r * v;
                float max = Vec.max(logits, o, v);
                float sum = expSum(logits, o, v, max);
                int t = targets[r];
                float scale = scalars[StepScalars.LOSS_SCALE];
                float target = t >= 0 ? logits[o + t] : 0f;
                if (t >= 0) {
                    losses[r] = (float) Math.log(sum) + max - target;
                } else {
                    losses[r] = 0f;
                    scale = 0f;
                }
                float k = scale / sum;
                FloatVector vmax = FloatVector.broadcast(Vec.S, max);
                int j = 0;
                for (; j <= v - Vec.L; j += Vec.L) {
                    Vec.exp(FloatVector.fromArray(Vec.S, logits, o + j).sub(vmax)).mul(k)
                            .intoArray(dlogits, o + j);
                }
                for (; j < v; j++) dlogits[o + j] = Vec.exp(logits[o + j] - max) * k;
                if (t >= 0) dlogits[o + t] -= scale;
            }
        });
    }

    private static float expSum(float[] x, int o, int n, float max) {
        FloatVector vmax = FloatVector.broadcast(Vec.S, max);
        FloatVector acc = FloatVector.zero(Vec.S);
        int j = 0;
        for (; j <= n - Vec.L; j += Vec.L) {
            acc = acc.add(Vec.exp(FloatVector.fromArray(Vec.S, x, o + j).sub(vmax)));
        }
        float s = Vec.sumLanes(acc);
        for (; j < n; j++) s += Vec.exp(x[o + j] - max);
        return s;
    }
}
