package sffn.kernels;

import jdk.incubator.vector.FloatVector;
import sffn.kernels.cpu.Vec;
import sffn.kernels.cpu.Workers;
import uk.ac.manchester.tornado.api.annotations.Parallel;

/**
 * SwiGLU over fc1's 2f outputs: {@code out[r,j] = silu(x[r,j]) * x[r,f+j]},
 * {@code silu(a) = a * sigmoid(a)}. x is [rows, 2f], out is [rows, f].
 */
public final class SwiGlu {
    private SwiGlu() {
    }

    // ---- portable bodies -------------------------------------------------------------------

    public static void forward(float[] x, float[] out, int rows, int f) {
        for (@Parallel int r = 0; r < rows; r++) {
            for (@Parallel int j = 0; j < f; j++) {
                float a = x[r * 2 * f + j];
                float sig = 1f / (1f + (float) Math.exp(-a));
                out[r * f + j] = a * sig * x[r * 2 * f + f + j];
            }
        }
    }

    public static void backward(float[] x, float[] dout, float[] dx, int rows, int f) {
        for (@Parallel int r = 0; r < rows; r++) {
            for (@Parallel int j = 0; j < f; j++) {
                float a = x[r * 2 * f + j];
                float b = x[r * 2 * f + f + j];
                float d = dout[r * f + j];
                float sig = 1f / (1f + (float) Math.exp(-a));
                dx[r * 2 * f + j] = d * b * sig * (1f + a * (1f - sig));
                dx[r * 2 * f + f + j] = d * a * sig;
            }
        }
    }

    // ---- CPU bodies ------------------------------------------------------------------------

    public static void forwardCpu(float[] x, float[] out, int rows, int f) {
        // Work: an exponential and a division per element, about four multiply-adds (Workers.SERIAL_WORK).
        Workers.pool().parallelFor(rows, 4L * rows * f, (from, to) -> {
            for (int r = from; r < to; r++) {
                int xo = r * 2 * f;
                int oo = r * f;
                int j = 0;
                for (; j <= f - Vec.L; j += Vec.L) {
                    FloatVector a = FloatVector.fromArray(Vec.S, x, xo + j);
                    FloatVector sig = Vec.sigmoid(a);
                    a.mul(sig).mul(FloatVector.fromArray(Vec.S, x, xo + f + j)).intoArray(out, oo + j);
                }
                for (; j < f; j++) {
                    float a = x[xo + j];
                    float sig = Vec.sigmoid(a);
                    out[oo + j] = a * sig * x[xo + f + j];
                }
            }
        });
    }

    public static void backwardCpu(float[] x, float[] dout, float[] dx, int rows, int f) {
        Workers.pool().parallelFor(rows, (from, to) -> {
            for (int r = from; r < to; r++) {
                int xo = r * 2 * f;
                int oo = r * f;
                int j = 0;
                for (; j <= f - Vec.L; j += Vec.L) {
                    FloatVector a = FloatVector.fromArray(Vec.S, x, xo + j);
                    FloatVector b = FloatVector.fromArray(Vec.S, x, xo + f + j);
                    FloatVector d = FloatVector.fromArray(Vec.S, dout, oo + j);
                    FloatVector sig = Vec.sigmoid(a);
                    FloatVector one = FloatVector.broadcast(Vec.S, 1f);
                    d.mul(b).mul(sig).mul(a.mul(one.sub(sig)).add(1f)).intoArray(dx, xo + j);
                    d.mul(a).mul(sig).intoArray(dx, xo + f + j);
                }
                for (; j < f; j++) {
                    float a = x[xo + j];
                    float b = x[xo + f + j];
                    float d = dout[oo + j];
                    float sig = Vec.sigmoid(a);
                    dx[xo + j] = d * b * sig * (1f + a * (1f - sig));
                    dx[xo + f + j] = d * a * sig;
                }
            }
        });
    }
}
