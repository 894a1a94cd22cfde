package sffn.kernels;

import jdk.incubator.vector.FloatVector;
import sffn.kernels.cpu.Vec;
import sffn.kernels.cpu.Workers;
import uk.ac.manchester.tornado.api.annotations.Parallel;

/**
 * The self-guided blend, in place on the structured branch's output:
 * {@code s = a * g + (1 - a) * s}, with {@code a = scalars[GUIDE_ALPHA]} when the layer's guide
 * switch {@code scalars[switchSlot]} is on; when it is off the guide is not read and s stays.
 * Backward, in place on the output gradient: {@code dg = a * dout; dout *= (1 - a)}.
 */
public final class Blend {
    private Blend() {
    }

    // ---- portable bodies -------------------------------------------------------------------

    public static void forward(float[] guide, float[] structured, float[] scalars, int switchSlot, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            if (scalars[switchSlot] != 0f) {
                float a = scalars[StepScalars.GUIDE_ALPHA];
                structured[i] = a * guide[i] + (1f - a) * structured[i];
            }
        }
    }

    public static void backward(float[] dout, float[] dguide, float[] scalars, int switchSlot, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            float a = 0f;
            if (scalars[switchSlot] != 0f) {
                a = scalars[StepScalars.GUIDE_ALPHA];
            }
            dguide[i] = a * dout[i];
            dout[i] = (1f - a) * dout[i];
        }
    }

    /**
     * {@link #backward} on a copy of the output gradient, in one pass: {@code dguide = a dout},
     * {@code dstructured = (1 - a) dout}, dout left intact (it may be the residual stream's).
     */
    public static void split(float[] dout, float[] dstructured, float[] dguide, float[] scalars, int switchSlot, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            float a = 0f;
            if (scalars[switchSlot] != 0f) {
                a = scalars[StepScalars.GUIDE_ALPHA];
            }
            float d = dout[i];
            dguide[i] = a * d;
            dstructured[i] = (1f - a) * d;
        }
    }

    // ---- CPU bodies ------------------------------------------------------------------------

    public static void forwardCpu(float[] guide, float[] structured, float[] scalars, int switchSlot, int n) {
        if (scalars[switchSlot] == 0f) return;
        float a = scalars[StepScalars.GUIDE_ALPHA];
        float b = 1f - a;
        Workers.pool().parallelFor(n, Residual.GRAIN, (from, to) -> {
            int i = from;
            for (; i <= to - Vec.L; i += Vec.L) {
                FloatVector.fromArray(Vec.S, structured, i).mul(b)
                        .add(FloatVector.fromArray(Vec.S, guide, i).mul(a)).intoArray(structured, i);
            }
            for (; i < to; i++) structured[i] = a * guide[i] + b * structured[i];
        });
    }

    public static void backwardCpu(float[] dout, float[] dguide, float[] scalars, int switchSlot, int n) {
        float a = scalars[switchSlot] != 0f ? scalars[StepScalars.GUIDE_ALPHA] : 0f;
        float b = 1f - a;
        Workers.pool().parallelFor(n, Residual.GRAIN, (from, to) -> {
            int i = from;
            for (; i <= to - Vec.L; i += Vec.L) {
                FloatVector d = FloatVector.fromArray(Vec.S, dout, i);
                d.mul(a).intoArray(dguide, i);
                d.mul(b).intoArray(dout, i);
            }
            for (; i < to; i++) {
                float d = dout[i];
                dguide[i] = a * d;
                dout[i] = b * d;
            }
        });
    }
}
