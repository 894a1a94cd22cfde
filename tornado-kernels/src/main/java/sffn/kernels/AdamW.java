package sffn.kernels;

import jdk.incubator.vector.FloatVector;
import sffn.kernels.cpu.Vec;
import sffn.kernels.cpu.Workers;
import uk.ac.manchester.tornado.api.annotations.Parallel;

/**
 * AdamW with decoupled weight decay and bias correction, on gradients scaled by the clipping
 * factor:
 * <pre>
 *   g = grad * scalars[CLIP_SCALE]
 *   m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
 *   p -= lr * ((m / bc1) / (sqrt(v / bc2) + eps) + wd * p)
 * </pre>
 * with {@code lr}, {@code bc1 = 1 - b1^t}, {@code bc2 = 1 - b2^t} from the step scalars. Each
 * update leaves the gradient it read zero, ready for the next step's accumulation: zeroing the
 * gradients is then no pass (and, on a device, no launches) of its own.
 */
public final class AdamW {
    private static final int GRAIN = 1 << 13;

    private AdamW() {
    }

    public static void update(float[] p, float[] grad, float[] m, float[] v, float[] scalars, int n,
                              float beta1, float beta2, float eps, float weightDecay) {
        for (@Parallel int i = 0; i < n; i++) {
            step(p, grad, m, v, scalars, i, beta1, beta2, eps, weightDecay);
        }
    }

    /** Parameters per {@link #updateGroup} launch: four arrays each, 15 of a task's arguments in all. */
    public static final int GROUP = 3;
    /** Slots of the hyperparameter array of {@link #updateGroup}. */
    public static final int BETA1 = 0;
    public static final int BETA2 = 1;
    public static final int EPS = 2;
    public static final int WEIGHT_DECAY = 3;

    /**
     * {@link #update} of the first {@code count} (1 to {@link #GROUP}) parameters of one weight
     * decay in one launch: one index space over p0's elements, then p1's, then p2's. The others
     * are not read. Sizes are the arrays' lengths and the hyperparameters an array ({@link #BETA1}
     * ..): a task takes at most 15 arguments.
     */
    public static void updateGroup(float[] p0, float[] g0, float[] m0, float[] v0, float[] p1, float[] g1, float[] m1,
                                   float[] v1, float[] p2, float[] g2, float[] m2, float[] v2, float[] scalars,
                                   float[] hyper, int count) {
        int e0 = p0.length;
        int e1 = e0 + (count > 1 ? p1.length : 0);
        int e2 = e1 + (count > 2 ? p2.length : 0);
        for (@Parallel int i = 0; i < e2; i++) {
            if (i < e0) {
                step(p0, g0, m0, v0, scalars, i, hyper[BETA1], hyper[BETA2], hyper[EPS], hyper[WEIGHT_DECAY]);
            } else if (i < e1) {
                step(p1, g1, m1, v1, scalars, i - e0, hyper[BETA1], hyper[BETA2], hyper[EPS], hyper[WEIGHT_DECAY]);
            } else {
                step(p2, g2, m2, v2, scalars, i - e1, hyper[BETA1], hyper[BETA2], hyper[EPS], hyper[WEIGHT_DECAY]);
            }
        }
    }

    /**
     * {@link #update} of every parameter in one launch, from arrays that hold all parameters of a
     * kind one after another (on a device, where a task takes at most 15 arguments): the first
     * {@code nW} elements of pW, gW, mW, vW, then the first {@code nB} of pB, gB, mB, vB (the
     * biases, which kernels read beside a weight and so cannot share its array). Elements below
     * {@code decayW} (and {@code decayB}) take the weight decay {@code hyper[WEIGHT_DECAY]}, the
     * others none; an element whose value, gradient and moments are zero (padding) stays zero.
     */
    public static void updateFlat(float[] pW, float[] gW, float[] mW, float[] vW, float[] pB, float[] gB, float[] mB,
                                  float[] vB, float[] scalars, float[] hyper, int nW, int nB, int decayW, int decayB) {
        for (@Parallel int i = 0; i < nW + nB; i++) {
            if (i < decayW) {
                step(pW, gW, mW, vW, scalars, i, hyper[BETA1], hyper[BETA2], hyper[EPS], hyper[WEIGHT_DECAY]);
            } else if (i < nW) {
                step(pW, gW, mW, vW, scalars, i, hyper[BETA1], hyper[BETA2], hyper[EPS], 0f);
            } else if (i - nW < decayB) {
                step(pB, gB, mB, vB, scalars, i - nW, hyper[BETA1], hyper[BETA2], hyper[EPS], hyper[WEIGHT_DECAY]);
            } else {
                step(pB, gB, mB, vB, scalars, i - nW, hyper[BETA1], hyper[BETA2], hyper[EPS], 0f);
            }
        }
    }

    private static void step(float[] p, float[] grad, float[] m, float[] v, float[] scalars, int i, float beta1,
                             float beta2, float eps, float weightDecay) {
        float lr = scalars[StepScalars.LR];
        float g = grad[i] * scalars[StepScalars.CLIP_SCALE];
        grad[i] = 0f;
        float mi = beta1 * m[i] + (1f - beta1) * g;
        float vi = beta2 * v[i] + (1f - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        float mhat = mi / scalars[StepScalars.BIAS_CORRECTION1];
        float vhat = vi / scalars[StepScalars.BIAS_CORRECTION2];
        p[i] = p[i] - lr * (mhat / ((float) Math.sqrt(vhat) + eps) + weightDecay * p[i]);
    }

    /**
     * {@link #updateGroup}'s CPU body: each of the first {@code count} parameters as
     * {@link #updateCpu} updates it (the same bits).
     */
    public static void updateGroupCpu(float[] p0, float[] g0, float[] m0, float[] v0, float[] p1, float[] g1,
                                      float[] m1, float[] v1, float[] p2, float[] g2, float[] m2, float[] v2,
                                      float[] scalars, float[] hyper, int count) {
        float b1 = hyper[BETA1];
        float b2 = hyper[BETA2];
        float eps = hyper[EPS];
        float wd = hyper[WEIGHT_DECAY];
        updateCpu(p0, g0, m0, v0, scalars, p0.length, b1, b2, eps, wd);
        if (count > 1) updateCpu(p1, g1, m1, v1, scalars, p1.length, b1, b2, eps, wd);
        if (count > 2) updateCpu(p2, g2, m2, v2, scalars, p2.length, b1, b2, eps, wd);
    }

    public static void updateCpu(float[] p, float[] grad, float[] m, float[] v, float[] scalars, int n,
                                 float beta1, float beta2, float eps, float weightDecay) {
        float lr = scalars[StepScalars.LR];
        float clip = scalars[StepScalars.CLIP_SCALE];
        float ibc1 = 1f / scalars[StepScalars.BIAS_CORRECTION1];
        float ibc2 = 1f / scalars[StepScalars.BIAS_CORRECTION2];
        FloatVector zero = FloatVector.zero(Vec.S);
        Workers.pool().parallelFor(n, GRAIN, (from, to) -> {
            int i = from;
            for (; i <= to - Vec.L; i += Vec.L) {
                FloatVector g = FloatVector.fromArray(Vec.S, grad, i).mul(clip);
                zero.intoArray(grad, i);
                FloatVector mi = FloatVector.fromArray(Vec.S, m, i).mul(beta1).add(g.mul(1f - beta1));
                FloatVector vi = FloatVector.fromArray(Vec.S, v, i).mul(beta2).add(g.mul(g).mul(1f - beta2));
                mi.intoArray(m, i);
                vi.intoArray(v, i);
                FloatVector pi = FloatVector.fromArray(Vec.S, p, i);
                FloatVector step = mi.mul(ibc1).div(vi.mul(ibc2).sqrt().add(eps)).add(pi.mul(weightDecay));
                pi.sub(step.mul(lr)).intoArray(p, i);
            }
            for (; i < to; i++) {
                float g = grad[i] * clip;
                grad[i] = 0f;
                float mi = beta1 * m[i] + (1f - beta1) * g;
                float vi = beta2 * v[i] + (1f - beta2) * g * g;
                m[i] = mi;
                v[i] = vi;
                p[i] -= lr * ((mi * ibc1) / ((float) Math.sqrt(vi * ibc2) + eps) + weightDecay * p[i]);
            }
        });
    }
}
