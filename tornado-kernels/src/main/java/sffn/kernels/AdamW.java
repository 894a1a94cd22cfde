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
 * with {@code lr}, {@code bc1 = 1 - b1^t}, {@code bc2 = 1 - b2^t} from the step scalars.
 */
public final class AdamW {
    private static final int GRAIN = 1 << 13;

    private AdamW() {
    }

    public static void update(float[] p, float[] grad, float[] m, float[] v, float[] scalars, int n,
                              float beta1, float beta2, float eps, float weightDecay) {
        for (@Parallel int i = 0; i < n; i++) {
            float lr = scalars[StepScalars.LR];
            float g = grad[i] * scalars[StepScalars.CLIP_SCALE];
            float mi = beta1 * m[i] + (1f - beta1) * g;
            float vi = beta2 * v[i] + (1f - beta2) * g * g;
            m[i] = mi;
            v[i] = vi;
            float mhat = mi / scalars[StepScalars.BIAS_CORRECTION1];
            float vhat = vi / scalars[StepScalars.BIAS_CORRECTION2];
            p[i] = p[i] - lr * (mhat / ((float) Math.sqrt(vhat) + eps) + weightDecay * p[i]);
        }
    }

    public static void updateCpu(float[] p, float[] grad, float[] m, float[] v, float[] scalars, int n,
                                 float beta1, float beta2, float eps, float weightDecay) {
        float lr = scalars[StepScalars.LR];
        float clip = scalars[StepScalars.CLIP_SCALE];
        float ibc1 = 1f / scalars[StepScalars.BIAS_CORRECTION1];
        float ibc2 = 1f / scalars[StepScalars.BIAS_CORRECTION2];
        Workers.pool().parallelFor(n, GRAIN, (from, to) -> {
            int i = from;
            for (; i <= to - Vec.L; i += Vec.L) {
                FloatVector g = FloatVector.fromArray(Vec.S, grad, i).mul(clip);
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
                float mi = beta1 * m[i] + (1f - beta1) * g;
                float vi = beta2 * v[i] + (1f - beta2) * g * g;
                m[i] = mi;
                v[i] = vi;
                p[i] -= lr * ((mi * ibc1) / ((float) Math.sqrt(vi * ibc2) + eps) + weightDecay * p[i]);
            }
        });
    }
}
