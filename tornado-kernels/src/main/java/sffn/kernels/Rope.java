package sffn.kernels;

import jdk.incubator.vector.FloatVector;
import sffn.kernels.cpu.Vec;
import sffn.kernels.cpu.Workers;
import uk.ac.manchester.tornado.api.annotations.Parallel;

/**
 * Rotary position embedding, non-interleaved (rotate-half) over the whole head dimension d:
 * for {@code i < d/2}, angle {@code pos * base^(-2i/d)},
 * {@code (x_i, x_{i+d/2}) -> (x_i cos - x_{i+d/2} sin, x_{i+d/2} cos + x_i sin)}.
 *
 * <p>Applied in place to the first {@code heads} heads of each row of a [rows, rowStride]
 * buffer (the q and k heads of the fused qkv projection). Row r holds position
 * {@code posOffset + r % seqLen}. Backward is the inverse rotation ({@code sign = -1}).
 */
public final class Rope {
    private Rope() {
    }

    /** cos and sin tables, each [maxPos, d/2], computed in double precision. */
    public static float[][] tables(int maxPos, int d, double base) {
        int h = d / 2;
        float[] cos = new float[maxPos * h];
        float[] sin = new float[maxPos * h];
        for (int p = 0; p < maxPos; p++) {
            for (int i = 0; i < h; i++) {
                double angle = p * Math.pow(base, -2.0 * i / d);
                cos[p * h + i] = (float) Math.cos(angle);
                sin[p * h + i] = (float) Math.sin(angle);
            }
        }
        return new float[][] {cos, sin};
    }

    // ---- portable body ---------------------------------------------------------------------

    /** The portable body; see {@link #rotateHeads}. */
    public static void rotate(float[] x, float[] cos, float[] sin, int rows, int seqLen, int posOffset,
                              int heads, int d, int rowStride, float sign) {
        rotateHeads(x, cos, sin, rows, seqLen, posOffset, heads, d, rowStride, sign);
    }

    /**
     * The portable body under the name TornadoVM compiles: TornadoVM names the OpenCL kernel after
     * the Java method, and a kernel named {@code rotate} (an OpenCL built-in) does not build.
     */
    public static void rotateHeads(float[] x, float[] cosTable, float[] sinTable, int rows, int seqLen, int posOffset,
                                   int heads, int d, int rowStride, float direction) {
        for (@Parallel int r = 0; r < rows; r++) {
            for (@Parallel int hi = 0; hi < heads * (d / 2); hi++) {
                int half = d / 2;
                int h = hi / half;
                int i = hi - h * half;
                int pos = posOffset + r % seqLen;
                float c = cosTable[pos * half + i];
                float s = direction * sinTable[pos * half + i];
                int o = r * rowStride + h * d + i;
                float x1 = x[o];
                float x2 = x[o + half];
                x[o] = x1 * c - x2 * s;
                x[o + half] = x2 * c + x1 * s;
            }
        }
    }

    /** {@link #rotate} with the position offset read from {@code pos[0]} (decoding). */
    public static void rotateAt(float[] x, float[] cos, float[] sin, int[] pos, int rows, int seqLen,
                                int heads, int d, int rowStride, float sign) {
        for (@Parallel int r = 0; r < rows; r++) {
            for (@Parallel int hi = 0; hi < heads * (d / 2); hi++) {
                int half = d / 2;
                int h = hi / half;
                int i = hi - h * half;
                int p = pos[0] + r % seqLen;
                float c = cos[p * half + i];
                float s = sign * sin[p * half + i];
                int o = r * rowStride + h * d + i;
                float x1 = x[o];
                float x2 = x[o + half];
                x[o] = x1 * c - x2 * s;
                x[o + half] = x2 * c + x1 * s;
            }
        }
    }

    // ---- CPU body --------------------------------------------------------------------------

    public static void rotateCpu(float[] x, float[] cos, float[] sin, int rows, int seqLen, int posOffset,
                                 int heads, int d, int rowStride, float sign) {
        int half = d / 2;
        Workers.pool().parallelFor(rows, (long) rows * heads * d, (from, to) -> {
            for (int r = from; r < to; r++) {
                int t = (posOffset + r % seqLen) * half;
                for (int h = 0; h < heads; h++) {
                    int o = r * rowStride + h * d;
                    int i = 0;
                    for (; i <= half - Vec.L; i += Vec.L) {
                        FloatVector c = FloatVector.fromArray(Vec.S, cos, t + i);
                        FloatVector s = FloatVector.fromArray(Vec.S, sin, t + i).mul(sign);
                        FloatVector x1 = FloatVector.fromArray(Vec.S, x, o + i);
                        FloatVector x2 = FloatVector.fromArray(Vec.S, x, o + half + i);
                        x1.mul(c).sub(x2.mul(s)).intoArray(x, o + i);
                        x2.mul(c).add(x1.mul(s)).intoArray(x, o + half + i);
                    }
                    for (; i < half; i++) {
                        float c = cos[t + i];
                        float s = sign * sin[t + i];
                        float x1 = x[o + i];
                        float x2 = x[o + half + i];
                        x[o + i] = x1 * c - x2 * s;
                        x[o + half + i] = x2 * c + x1 * s;
                    }
                }
            }
        });
    }
}
