package sffn.kernels;

import jdk.incubator.vector.FloatVector;
import sffn.kernels.cpu.Vec;
import sffn.kernels.cpu.Workers;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.annotations.Parallel;

/**
 * RMSNorm over the last dimension, eps 1e-5: {@code out = x * rstd * w},
 * {@code rstd = 1 / sqrt(mean(x^2) + eps)}; forward saves rstd per row.
 *
 * <pre>
 *   backwardInput:  dx (+)= rstd * (g - xhat * mean(g * xhat)),  g = dout * w, xhat = x * rstd
 *   backwardParams: dw[j] (+)= sum_i dout[i,j] xhat[i,j]
 * </pre>
 *
 * <p>The row KernelContext bodies (GPUs) reduce each row in a work-group of
 * {@link WorkGroups#ROW} work-items, as in {@link LayerNorm}.
 */
public final class RmsNorm {
    public static final float EPS = 1e-5f;
    private static final int COLUMN_BLOCK = 128;

    private RmsNorm() {
    }

    // ---- portable bodies -------------------------------------------------------------------

    public static void forward(float[] x, float[] w, int wOff, float[] out, float[] rstd, int rows, int c) {
        for (@Parallel int i = 0; i < rows; i++) {
            float ss = 0f;
            for (int j = 0; j < c; j++) {
                ss += x[i * c + j] * x[i * c + j];
            }
            float s = 1f / (float) Math.sqrt(ss / c + EPS);
            for (int j = 0; j < c; j++) {
                out[i * c + j] = x[i * c + j] * s * w[wOff + j];
            }
            rstd[i] = s;
        }
    }

    /** {@code sum = src + y}, then {@link #forward} of the sum, a row per work item. */
    public static void residualForward(float[] src, float[] y, float[] sum, float[] w, int wOff, float[] out, float[] rstd,
                                       int rows, int c) {
        for (@Parallel int i = 0; i < rows; i++) {
            float ss = 0f;
            for (int j = 0; j < c; j++) {
                float x = src[i * c + j] + y[i * c + j];
                sum[i * c + j] = x;
                ss += x * x;
            }
            float s = 1f / (float) Math.sqrt(ss / c + EPS);
            for (int j = 0; j < c; j++) {
                out[i * c + j] = sum[i * c + j] * s * w[wOff + j];
            }
            rstd[i] = s;
        }
    }

    public static void backwardInput(float[] dout, float[] x, float[] w, int wOff, float[] rstd, float[] dx,
                                     int rows, int c, int accumulate) {
        for (@Parallel int i = 0; i < rows; i++) {
            float s = rstd[i];
            float gx = 0f;
            for (int j = 0; j < c; j++) {
                gx += dout[i * c + j] * w[wOff + j] * x[i * c + j] * s;
            }
            gx = gx / c;
            for (int j = 0; j < c; j++) {
                float d = s * (dout[i * c + j] * w[wOff + j] - x[i * c + j] * s * gx);
                if (accumulate == 1) {
                    d += dx[i * c + j];
                }
                dx[i * c + j] = d;
            }
        }
    }

    public static void backwardParams(float[] dout, float[] x, float[] rstd, float[] dw, int dwOff, int rows, int c,
                                      int accumulate) {
        for (@Parallel int j = 0; j < c; j++) {
            float sw = 0f;
            for (int i = 0; i < rows; i++) {
                sw += dout[i * c + j] * x[i * c + j] * rstd[i];
            }
            if (accumulate == 1) {
                sw += dw[dwOff + j];
            }
            dw[dwOff + j] = sw;
        }
    }

    // ---- row KernelContext bodies (GPUs; grid as in LayerNorm) -------------------------------

    public static void forwardRows(KernelContext ctx, float[] x, float[] w, int wOff, float[] out, float[] rstd, int c) {
        int i = ctx.groupIdx;
        int l = ctx.localIdx;
        float[] part = ctx.allocateFloatLocalArray(WorkGroups.ROW);
        float ss = 0f;
        for (int j = l; j < c; j += WorkGroups.ROW) {
            ss += x[i * c + j] * x[i * c + j];
        }
        float s = 1f / (float) Math.sqrt(WorkGroups.sumRow(ctx, part, ss) / c + EPS);
        for (int j = l; j < c; j += WorkGroups.ROW) {
            out[i * c + j] = x[i * c + j] * s * w[wOff + j];
        }
        if (l == 0) {
            rstd[i] = s;
        }
    }

    /** {@code sum = src + y}, then {@link #forwardRows} of the sum (see LayerNorm.residualForwardRows). */
    public static void residualForwardRows(KernelContext ctx, float[] src, float[] y, float[] sum, float[] w, int wOff,
                                           float[] out, float[] rstd, int c) {
        int i = ctx.groupIdx;
        int l = ctx.localIdx;
        float[] part = ctx.allocateFloatLocalArray(WorkGroups.ROW);
        float ss = 0f;
        for (int j = l; j < c; j += WorkGroups.ROW) {
            float x = src[i * c + j] + y[i * c + j];
            sum[i * c + j] = x;
            ss += x * x;
        }
        float s = 1f / (float) Math.sqrt(WorkGroups.sumRow(ctx, part, ss) / c + EPS);
        for (int j = l; j < c; j += WorkGroups.ROW) {
            out[i * c + j] = sum[i * c + j] * s * w[wOff + j];
        }
        if (l == 0) {
            rstd[i] = s;
        }
    }

    public static void backwardInputRows(KernelContext ctx, float[] dout, float[] x, float[] w, int wOff, float[] rstd,
                                         float[] dx, int c, int accumulate) {
        int i = ctx.groupIdx;
        int l = ctx.localIdx;
        float[] part = ctx.allocateFloatLocalArray(WorkGroups.ROW);
        float s = rstd[i];
        float gx = 0f;
        for (int j = l; j < c; j += WorkGroups.ROW) {
            gx += dout[i * c + j] * w[wOff + j] * x[i * c + j] * s;
        }
        gx = WorkGroups.sumRow(ctx, part, gx) / c;
        for (int j = l; j < c; j += WorkGroups.ROW) {
            float d = s * (dout[i * c + j] * w[wOff + j] - x[i * c + j] * s * gx);
            if (accumulate == 1) {
                d += dx[i * c + j];
            }
            dx[i * c + j] = d;
        }
    }

    // ---- CPU bodies ------------------------------------------------------------------------

    public static void forwardCpu(float[] x, float[] w, float[] out, float[] rstd, int rows, int c) {
        // Work: two passes over each row (Workers.SERIAL_WORK); a decode step's few rows stay on one thread.
        Workers.pool().parallelFor(rows, 2L * rows * c, (from, to) -> {
            for (int i = from; i < to; i++) forwardRow(x, w, out, rstd, i, c);
        });
    }

    /** {@code sum = src + y}, then {@link #forwardCpu} of the sum, row by row (the same bits as the two calls). */
    public static void residualForwardCpu(float[] src, float[] y, float[] sum, float[] w, float[] out, float[] rstd,
                                          int rows, int c) {
        Workers.pool().parallelFor(rows, 3L * rows * c, (from, to) -> {
            for (int i = from; i < to; i++) {
                Residual.sumSpan(src, y, sum, i * c, c);
                forwardRow(sum, w, out, rstd, i, c);
            }
        });
    }

    private static void forwardRow(float[] x, float[] w, float[] out, float[] rstd, int i, int c) {
        int o = i * c;
        float s = 1f / (float) Math.sqrt(Vec.dot(x, o, x, o, c) / c + EPS);
        FloatVector vs = FloatVector.broadcast(Vec.S, s);
        int j = 0;
        for (; j <= c - Vec.L; j += Vec.L) {
            FloatVector.fromArray(Vec.S, x, o + j).mul(vs).mul(FloatVector.fromArray(Vec.S, w, j)).intoArray(out, o + j);
        }
        for (; j < c; j++) out[o + j] = x[o + j] * s * w[j];
        rstd[i] = s;
    }

    public static void backwardInputCpu(float[] dout, float[] x, float[] w, float[] rstd, float[] dx,
                                        int rows, int c, boolean accumulate) {
        Workers.pool().parallelFor(rows, (from, to) -> {
            for (int i = from; i < to; i++) {
                int o = i * c;
                float s = rstd[i];
                FloatVector acc = FloatVector.zero(Vec.S);
                int j = 0;
                for (; j <= c - Vec.L; j += Vec.L) {
                    acc = FloatVector.fromArray(Vec.S, dout, o + j).mul(FloatVector.fromArray(Vec.S, w, j))
                            .fma(FloatVector.fromArray(Vec.S, x, o + j), acc);
                }
                float gx = Vec.sumLanes(acc);
                for (; j < c; j++) gx += dout[o + j] * w[j] * x[o + j];
                gx = gx * s / c;
                FloatVector vs = FloatVector.broadcast(Vec.S, s);
                FloatVector vk = FloatVector.broadcast(Vec.S, s * gx);
                j = 0;
                for (; j <= c - Vec.L; j += Vec.L) {
                    FloatVector d = FloatVector.fromArray(Vec.S, dout, o + j).mul(FloatVector.fromArray(Vec.S, w, j))
                            .sub(FloatVector.fromArray(Vec.S, x, o + j).mul(vk)).mul(vs);
                    if (accumulate) d = d.add(FloatVector.fromArray(Vec.S, dx, o + j));
                    d.intoArray(dx, o + j);
                }
                for (; j < c; j++) {
                    float d = s * (dout[o + j] * w[j] - x[o + j] * s * gx);
                    dx[o + j] = accumulate ? dx[o + j] + d : d;
                }
            }
        });
    }

    /**
     * backwardInput and backwardParams (adding into dw) in one pass over the rows, with the
     * parameter sums taken per fixed chunk of rows and added in chunk order, as
     * {@link LayerNorm#backwardCpu}.
     */
    public static void backwardCpu(float[] dout, float[] x, float[] w, float[] rstd, float[] dx, float[] dw,
                                   int rows, int c, boolean accumulateInput) {
        int chunks = NormChunks.count(rows);
        float[] part = NormChunks.BUFFER.get(chunks * c);
        Workers.pool().parallelFor(chunks, 1, (from, to) -> {
            for (int q = from; q < to; q++) {
                int pw = q * c;
                java.util.Arrays.fill(part, pw, pw + c, 0f);
                int i1 = Math.min(rows, (q + 1) * NormChunks.ROWS);
                for (int i = q * NormChunks.ROWS; i < i1; i++) {
                    int o = i * c;
                    float s = rstd[i];
                    FloatVector vs = FloatVector.broadcast(Vec.S, s);
                    FloatVector acc = FloatVector.zero(Vec.S);
                    int j = 0;
                    for (; j <= c - Vec.L; j += Vec.L) {
                        FloatVector d = FloatVector.fromArray(Vec.S, dout, o + j);
                        FloatVector xv = FloatVector.fromArray(Vec.S, x, o + j);
                        acc = d.mul(FloatVector.fromArray(Vec.S, w, j)).fma(xv, acc);
                        d.fma(xv.mul(vs), FloatVector.fromArray(Vec.S, part, pw + j)).intoArray(part, pw + j);
                    }
                    float gx = Vec.sumLanes(acc);
                    for (; j < c; j++) {
                        gx += dout[o + j] * w[j] * x[o + j];
                        part[pw + j] += dout[o + j] * x[o + j] * s;
                    }
                    gx = gx * s / c;
                    FloatVector vk = FloatVector.broadcast(Vec.S, s * gx);
                    j = 0;
                    for (; j <= c - Vec.L; j += Vec.L) {
                        FloatVector d = FloatVector.fromArray(Vec.S, dout, o + j).mul(FloatVector.fromArray(Vec.S, w, j))
                                .sub(FloatVector.fromArray(Vec.S, x, o + j).mul(vk)).mul(vs);
                        if (accumulateInput) d = d.add(FloatVector.fromArray(Vec.S, dx, o + j));
                        d.intoArray(dx, o + j);
                    }
                    for (; j < c; j++) {
                        float d = s * (dout[o + j] * w[j] - x[o + j] * s * gx);
                        dx[o + j] = accumulateInput ? dx[o + j] + d : d;
                    }
                }
            }
        });
        NormChunks.addInOrder(part, chunks, c, 0, dw, c);
    }

    public static void backwardParamsCpu(float[] dout, float[] x, float[] rstd, float[] dw, int rows, int c, boolean accumulate) {
        int blocks = (c + COLUMN_BLOCK - 1) / COLUMN_BLOCK;
        Workers.pool().parallelFor(blocks, 1, (from, to) -> {
            for (int blk = from; blk < to; blk++) {
                int j0 = blk * COLUMN_BLOCK;
                int j1 = Math.min(c, j0 + COLUMN_BLOCK);
                if (!accumulate) java.util.Arrays.fill(dw, j0, j1, 0f);
                for (int i = 0; i < rows; i++) {
                    int o = i * c;
                    FloatVector vs = FloatVector.broadcast(Vec.S, rstd[i]);
                    int j = j0;
                    for (; j <= j1 - Vec.L; j += Vec.L) {
                        FloatVector.fromArray(Vec.S, dout, o + j)
                                .fma(FloatVector.fromArray(Vec.S, x, o + j).mul(vs), FloatVector.fromArray(Vec.S, dw, j))
                                .intoArray(dw, j);
                    }
                    for (; j < j1; j++) dw[j] += dout[o + j] * x[o + j] * rstd[i];
                }
            }
        });
    }
}
