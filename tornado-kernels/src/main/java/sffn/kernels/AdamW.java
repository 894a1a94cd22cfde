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

    /**
     * {@link #update} of two parameters (the same weight decay) in one launch: one index space
     * over p1's n1 elements, then p2's n2. A task takes at most 15 arguments, so two is as many
     * as one launch can hold.
     */
    public static void updatePair(float[] p1, float[] g1, float[] m1, float[] v1, float[] p2, float[] g2, float[] m2,
                                  float[] v2, float[] scalars, int n1, int n2, float beta1, float beta2, float eps,
                                  float weightDecay) {
        for (@Parallel int i = 0; i < n1 + n2; i++) {
            if (i < n1) {
                step(p1, g1, m1, v1, scalars, i, beta1, beta2, eps, weightDecay);
            } else {
                step(p2, g2, m2, v2, scalars, i - n1, beta1, beta2, eps, weightDecay);
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

    /** {@link #updatePair}'s CPU body: each parameter as {@link #updateCpu} updates it (the same bits). */
    public static void updatePairCpu(float[] p1, float[] g1, float[] m1, float[] v1, float[] p2, float[] g2, float[] m2,
                                     float[] v2, float[] scalars, int n1, int n2, float beta1, float beta2, float eps,
                                     float weightDecay) {
        updateCpu(p1, g1, m1, v1, scalars, n1, beta1, beta2, eps, weightDecay);
        updateCpu(p2, g2, m2, v2, scalars, n2, beta1, beta2, eps, weightDecay);
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
