package sffn.kernels;

import jdk.incubator.vector.FloatVector;
import sffn.kernels.cpu.Vec;
import sffn.kernels.cpu.Workers;
import uk.ac.manchester.tornado.api.annotations.Parallel;

/**
 * GELU, tanh form: {@code 0.5 x (1 + tanh(k (x + 0.044715 x^3)))}, {@code k = 0.7978845608};
 * backward: {@code dx = dout * (0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 * 0.044715 x^2))}.
 */
public final class Gelu {
    static final float K = 0.7978845608f;
    static final float C = 0.044715f;
    private static final int GRAIN = 1 << 14;

    private Gelu() {
    }

    // ---- portable bodies -------------------------------------------------------------------

    public static void forward(float[] x, float[] out, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            out[i] = of(x[i]);
        }
    }

    /** GELU of one value, as the portable forward computes it (also the fused matmul epilogue's). */
    public static float of(float v) {
        float t = (float) Math.tanh(K * (v + C * v * v * v));
        return 0.5f * v * (1f + t);
    }

    public static void backward(float[] x, float[] dout, float[] dx, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            float v = x[i];
            float t = (float) Math.tanh(K * (v + C * v * v * v));
            float g = 0.5f * (1f + t) + 0.5f * v * (1f - t * t) * K * (1f + 3f * C * v * v);
            dx[i] = dout[i] * g;
        }
    }

    // ---- CPU bodies ------------------------------------------------------------------------

    public static void forwardCpu(float[] x, float[] out, int n) {
        Workers.pool().parallelFor(n, GRAIN, (from, to) -> {
            int i = from;
            for (; i <= to - Vec.L; i += Vec.L) {
                FloatVector v = FloatVector.fromArray(Vec.S, x, i);
                FloatVector t = Vec.tanh(v.mul(v).mul(v).mul(C).add(v).mul(K));
                v.mul(0.5f).mul(t.add(1f)).intoArray(out, i);
            }
            for (; i < to; i++) {
                float v = x[i];
                float t = Vec.tanh(K * (v + C * v * v * v));
                out[i] = 0.5f * v * (1f + t);
            }
        });
    }

    public static void backwardCpu(float[] x, float[] dout, float[] dx, int n) {
        Workers.pool().parallelFor(n, GRAIN, (from, to) -> {
            int i = from;
            for (; i <= to - Vec.L; i += Vec.L) {
                FloatVector v = FloatVector.fromArray(Vec.S, x, i);
                FloatVector v2 = v.mul(v);
                FloatVector t = Vec.tanh(v2.mul(v).mul(C).add(v).mul(K));
                FloatVector one = FloatVector.broadcast(Vec.S, 1f);
                FloatVector g = t.add(1f).mul(0.5f)
                        .add(v.mul(0.5f * K).mul(one.sub(t.mul(t))).mul(v2.mul(3f * C).add(1f)));
                FloatVector.fromArray(Vec.S, dout, i).mul(g).intoArray(dx, i);
            }
            for (; i < to; i++) {
                float v = x[i];
                float t = Vec.tanh(K * (v + C * v * v * v));
                float g = 0.5f * (1f + t) + 0.5f * v * (1f - t * t) * K * (1f + 3f * C * v * v);
                dx[i] = dout[i] * g;
            }
        });
    }
}
