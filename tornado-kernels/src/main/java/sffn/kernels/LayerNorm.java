package sffn.kernels;

import jdk.incubator.vector.FloatVector;
import sffn.kernels.cpu.Vec;
import sffn.kernels.cpu.Workers;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.annotations.Parallel;

/**
 * LayerNorm over the last dimension, eps 1e-5:
 * {@code out = (x - mean) * rstd * w + b}, {@code rstd = 1 / sqrt(var + eps)}; forward saves
 * mean and rstd per row for backward.
 *
 * <pre>
 *   backwardInput:  dx (+)= rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dout * w
 *   backwardParams: dw[j] (+)= sum_i dout[i,j] xhat[i,j];  db[j] (+)= sum_i dout[i,j]
 * </pre>
 * backwardParams runs over columns, each summing its rows in order, so it needs no atomics.
 *
 * <p>The row KernelContext bodies (GPUs) give each row a work-group of {@link WorkGroups#ROW}
 * work-items: each sums a strided slice of the row, then the partial sums meet in a fixed tree in
 * local memory (so results do not depend on timing). Grid: {@code rows * ROW} work-items in
 * groups of {@code ROW}. They cannot run as plain Java.
 */
public final class LayerNorm {
    public static final float EPS = 1e-5f;
    private static final int COLUMN_BLOCK = 128;

    private LayerNorm() {
    }

    // ---- portable bodies -------------------------------------------------------------------

    public static void forward(float[] x, float[] w, int wOff, float[] b, int bOff, float[] out, float[] mean, float[] rstd,
                               int rows, int c) {
        for (@Parallel int i = 0; i < rows; i++) {
            float m = 0f;
            for (int j = 0; j < c; j++) {
                m += x[i * c + j];
            }
            m = m / c;
            float v = 0f;
            for (int j = 0; j < c; j++) {
                float d = x[i * c + j] - m;
                v += d * d;
            }
            v = v / c;
            float s = 1f / (float) Math.sqrt(v + EPS);
            for (int j = 0; j < c; j++) {
                out[i * c + j] = (x[i * c + j] - m) * s * w[wOff + j] + b[bOff + j];
            }
            mean[i] = m;
            rstd[i] = s;
        }
    }

    /** {@code sum = src + y}, then {@link #forward} of the sum, a row per work item. */
    public static void residualForward(float[] src, float[] y, float[] sum, float[] w, int wOff, float[] b, int bOff,
                                       float[] out, float[] mean, float[] rstd, int rows, int c) {
        for (@Parallel int i = 0; i < rows; i++) {
            float m = 0f;
            for (int j = 0; j < c; j++) {
                float x = src[i * c + j] + y[i * c + j];
                sum[i * c + j] = x;
                m += x;
            }
            m = m / c;
            float v = 0f;
            for (int j = 0; j < c; j++) {
                float d = sum[i * c + j] - m;
                v += d * d;
            }
            v = v / c;
            float s = 1f / (float) Math.sqrt(v + EPS);
            for (int j = 0; j < c; j++) {
                out[i * c + j] = (sum[i * c + j] - m) * s * w[wOff + j] + b[bOff + j];
            }
            mean[i] = m;
            rstd[i] = s;
        }
    }

    public static void backwardInput(float[] dout, float[] x, float[] w, int wOff, float[] mean, float[] rstd, float[] dx,
                                     int rows, int c, int accumulate) {
        for (@Parallel int i = 0; i < rows; i++) {
            float m = mean[i];
            float s = rstd[i];
            float g = 0f;
            float gx = 0f;
            for (int j = 0; j < c; j++) {
                float dn = dout[i * c + j] * w[wOff + j];
                g += dn;
                gx += dn * (x[i * c + j] - m) * s;
            }
            g = g / c;
            gx = gx / c;
            for (int j = 0; j < c; j++) {
                float xhat = (x[i * c + j] - m) * s;
                float d = s * (dout[i * c + j] * w[wOff + j] - g - xhat * gx);
                if (accumulate == 1) {
                    d += dx[i * c + j];
                }
                dx[i * c + j] = d;
            }
        }
    }

    public static void backwardParams(float[] dout, float[] x, float[] mean, float[] rstd, float[] dw, int dwOff, float[] db,
                                      int dbOff, int rows, int c, int accumulate) {
        for (@Parallel int j = 0; j < c; j++) {
            float sw = 0f;
            float sb = 0f;
            for (int i = 0; i < rows; i++) {
                float d = dout[i * c + j];
                sw += d * (x[i * c + j] - mean[i]) * rstd[i];
                sb += d;
            }
            if (accumulate == 1) {
                sw += dw[dwOff + j];
                sb += db[dbOff + j];
            }
            dw[dwOff + j] = sw;
            db[dbOff + j] = sb;
        }
    }

    // ---- row KernelContext bodies (GPUs; see the class comment for the grid) ---------------

    public static void forwardRows(KernelContext ctx, float[] x, float[] w, int wOff, float[] b, int bOff, float[] out,
                                   float[] mean, float[] rstd, int c) {
        int i = ctx.groupIdx;
        int l = ctx.localIdx;
        float[] part = ctx.allocateFloatLocalArray(WorkGroups.ROW);
        float s = 0f;
        for (int j = l; j < c; j += WorkGroups.ROW) {
            s += x[i * c + j];
        }
        float m = WorkGroups.sumRow(ctx, part, s) / c;
        float v = 0f;
        for (int j = l; j < c; j += WorkGroups.ROW) {
            float d = x[i * c + j] - m;
            v += d * d;
        }
        float r = 1f / (float) Math.sqrt(WorkGroups.sumRow(ctx, part, v) / c + EPS);
        for (int j = l; j < c; j += WorkGroups.ROW) {
            out[i * c + j] = (x[i * c + j] - m) * r * w[wOff + j] + b[bOff + j];
        }
        if (l == 0) {
            mean[i] = m;
            rstd[i] = r;
        }
    }

    /**
     * {@code sum = src + y}, then {@link #forwardRows} of the sum, one work-group per row: the
     * residual stream's next value and its norm in one launch. Each work-item adds the columns it
     * later reads, so no barrier is needed before the mean.
     */
    public static void residualForwardRows(KernelContext ctx, float[] src, float[] y, float[] sum, float[] w, int wOff,
                                           float[] b, int bOff, float[] out, float[] mean, float[] rstd, int c) {
        int i = ctx.groupIdx;
        int l = ctx.localIdx;
        float[] part = ctx.allocateFloatLocalArray(WorkGroups.ROW);
        float s = 0f;
        for (int j = l; j < c; j += WorkGroups.ROW) {
            float x = src[i * c + j] + y[i * c + j];
            sum[i * c + j] = x;
            s += x;
        }
        float m = WorkGroups.sumRow(ctx, part, s) / c;
        float v = 0f;
        for (int j = l; j < c; j += WorkGroups.ROW) {
            float d = sum[i * c + j] - m;
            v += d * d;
        }
        float r = 1f / (float) Math.sqrt(WorkGroups.sumRow(ctx, part, v) / c + EPS);
        for (int j = l; j < c; j += WorkGroups.ROW) {
            out[i * c + j] = (sum[i * c + j] - m) * r * w[wOff + j] + b[bOff + j];
        }
        if (l == 0) {
            mean[i] = m;
            rstd[i] = r;
        }
    }

    public static void backwardInputRows(KernelContext ctx, float[] dout, float[] x, float[] w, int wOff, float[] mean,
                                         float[] rstd, float[] dx, int c, int accumulate) {
        int i = ctx.groupIdx;
        int l = ctx.localIdx;
        float[] pg = ctx.allocateFloatLocalArray(WorkGroups.ROW);
        float[] pgx = ctx.allocateFloatLocalArray(WorkGroups.ROW);
        float m = mean[i];
        float s = rstd[i];
        float g = 0f;
        float gx = 0f;
        for (int j = l; j < c; j += WorkGroups.ROW) {
            float dn = dout[i * c + j] * w[wOff + j];
            g += dn;
            gx += dn * (x[i * c + j] - m) * s;
        }
        pg[l] = g;
        pgx[l] = gx;
        for (int stride = WorkGroups.ROW / 2; stride > 0; stride /= 2) {
            ctx.localBarrier();
            if (l < stride) {
                pg[l] += pg[l + stride];
                pgx[l] += pgx[l + stride];
            }
        }
        ctx.localBarrier();
        g = pg[0] / c;
        gx = pgx[0] / c;
        for (int j = l; j < c; j += WorkGroups.ROW) {
            float xhat = (x[i * c + j] - m) * s;
            float d = s * (dout[i * c + j] * w[wOff + j] - g - xhat * gx);
            if (accumulate == 1) {
                d += dx[i * c + j];
            }
            dx[i * c + j] = d;
        }
    }

    // ---- CPU bodies ------------------------------------------------------------------------

    public static void forwardCpu(float[] x, float[] w, float[] b, float[] out, float[] mean, float[] rstd, int rows, int c) {
        // Work: two passes over each row (Workers.SERIAL_WORK); a decode step's few rows stay on one thread.
        Workers.pool().parallelFor(rows, 2L * rows * c, (from, to) -> {
            for (int i = from; i < to; i++) forwardRow(x, w, b, out, mean, rstd, i, c);
        });
    }

    /**
     * {@code sum = src + y}, then {@link #forwardCpu} of the sum, row by row: each row of the sum
     * is normalised while it is in the cache (the same bits as the two calls).
     */
    public static void residualForwardCpu(float[] src, float[] y, float[] sum, float[] w, float[] b, float[] out,
                                          float[] mean, float[] rstd, int rows, int c) {
        Workers.pool().parallelFor(rows, 3L * rows * c, (from, to) -> {
            for (int i = from; i < to; i++) {
                Residual.sumSpan(src, y, sum, i * c, c);
                forwardRow(sum, w, b, out, mean, rstd, i, c);
            }
        });
    }

    private static void forwardRow(float[] x, float[] w, float[] b, float[] out, float[] mean, float[] rstd, int i,
                                   int c) {
        int o = i * c;
        float m = Vec.sum(x, o, c) / c;
        FloatVector vm = FloatVector.broadcast(Vec.S, m);
        FloatVector acc = FloatVector.zero(Vec.S);
        int j = 0;
        for (; j <= c - Vec.L; j += Vec.L) {
            FloatVector d = FloatVector.fromArray(Vec.S, x, o + j).sub(vm);
            acc = d.fma(d, acc);
        }
        float v = Vec.sumLanes(acc);
        for (; j < c; j++) {
            float d = x[o + j] - m;
            v += d * d;
        }
        float s = 1f / (float) Math.sqrt(v / c + EPS);
        FloatVector vs = FloatVector.broadcast(Vec.S, s);
        j = 0;
        for (; j <= c - Vec.L; j += Vec.L) {
            FloatVector.fromArray(Vec.S, x, o + j).sub(vm).mul(vs)
                    .fma(FloatVector.fromArray(Vec.S, w, j), FloatVector.fromArray(Vec.S, b, j))
                    .intoArray(out, o + j);
        }
        for (; j < c; j++) out[o + j] = (x[o + j] - m) * s * w[j] + b[j];
        mean[i] = m;
        rstd[i] = s;
    }

    public static void backwardInputCpu(float[] dout, float[] x, float[] w, float[] mean, float[] rstd, float[] dx,
                                        int rows, int c, boolean accumulate) {
        Workers.pool().parallelFor(rows, (from, to) -> {
            for (int i = from; i < to; i++) {
                int o = i * c;
                float m = mean[i];
                float s = rstd[i];
                FloatVector vm = FloatVector.broadcast(Vec.S, m);
                FloatVector vs = FloatVector.broadcast(Vec.S, s);
                FloatVector ag = FloatVector.zero(Vec.S);
                FloatVector agx = FloatVector.zero(Vec.S);
                int j = 0;
                for (; j <= c - Vec.L; j += Vec.L) {
                    FloatVector dn = FloatVector.fromArray(Vec.S, dout, o + j).mul(FloatVector.fromArray(Vec.S, w, j));
                    FloatVector xh = FloatVector.fromArray(Vec.S, x, o + j).sub(vm).mul(vs);
                    ag = ag.add(dn);
                    agx = dn.fma(xh, agx);
                }
                float g = Vec.sumLanes(ag);
                float gx = Vec.sumLanes(agx);
                for (; j < c; j++) {
                    float dn = dout[o + j] * w[j];
                    g += dn;
                    gx += dn * (x[o + j] - m) * s;
                }
                g /= c;
                gx /= c;
                FloatVector vg = FloatVector.broadcast(Vec.S, g);
                FloatVector vgx = FloatVector.broadcast(Vec.S, gx);
                j = 0;
                for (; j <= c - Vec.L; j += Vec.L) {
                    FloatVector xh = FloatVector.fromArray(Vec.S, x, o + j).sub(vm).mul(vs);
                    FloatVector d = FloatVector.fromArray(Vec.S, dout, o + j).mul(FloatVector.fromArray(Vec.S, w, j))
                            .sub(vg).sub(xh.mul(vgx)).mul(vs);
                    if (accumulate) d = d.add(FloatVector.fromArray(Vec.S, dx, o + j));
                    d.intoArray(dx, o + j);
                }
                for (; j < c; j++) {
                    float xh = (x[o + j] - m) * s;
                    float d = s * (dout[o + j] * w[j] - g - xh * gx);
                    dx[o + j] = accumulate ? dx[o + j] + d : d;
                }
            }
        });
    }

    /**
     * backwardInput and backwardParams (adding into dw and db) in one pass over the rows: each
     * row's dout and x are read from memory once. The parameter sums are taken per chunk of
     * {@link NormChunks#ROWS} rows (fixed by the row count alone, not by the threads), then the
     * chunks' partial sums are added to dw and db in chunk order, so the result is deterministic.
     */
    public static void backwardCpu(float[] dout, float[] x, float[] w, float[] mean, float[] rstd, float[] dx,
                                   float[] dw, float[] db, int rows, int c, boolean accumulateInput) {
        int chunks = NormChunks.count(rows);
        float[] part = NormChunks.BUFFER.get(chunks * 2 * c);
        Workers.pool().parallelFor(chunks, 1, (from, to) -> {
            for (int q = from; q < to; q++) {
                int pw = q * 2 * c;
                int pb = pw + c;
                java.util.Arrays.fill(part, pw, pw + 2 * c, 0f);
                int i1 = Math.min(rows, (q + 1) * NormChunks.ROWS);
                for (int i = q * NormChunks.ROWS; i < i1; i++) {
                    int o = i * c;
                    float m = mean[i];
                    float s = rstd[i];
                    FloatVector vm = FloatVector.broadcast(Vec.S, m);
                    FloatVector vs = FloatVector.broadcast(Vec.S, s);
                    FloatVector ag = FloatVector.zero(Vec.S);
                    FloatVector agx = FloatVector.zero(Vec.S);
                    int j = 0;
                    for (; j <= c - Vec.L; j += Vec.L) {
                        FloatVector d = FloatVector.fromArray(Vec.S, dout, o + j);
                        FloatVector dn = d.mul(FloatVector.fromArray(Vec.S, w, j));
                        FloatVector xh = FloatVector.fromArray(Vec.S, x, o + j).sub(vm).mul(vs);
                        ag = ag.add(dn);
                        agx = dn.fma(xh, agx);
                        d.fma(xh, FloatVector.fromArray(Vec.S, part, pw + j)).intoArray(part, pw + j);
                        d.add(FloatVector.fromArray(Vec.S, part, pb + j)).intoArray(part, pb + j);
                    }
                    float g = Vec.sumLanes(ag);
                    float gx = Vec.sumLanes(agx);
                    for (; j < c; j++) {
                        float d = dout[o + j];
                        float dn = d * w[j];
                        float xh = (x[o + j] - m) * s;
                        g += dn;
                        gx += dn * xh;
                        part[pw + j] += d * xh;
                        part[pb + j] += d;
                    }
                    g /= c;
                    gx /= c;
                    FloatVector vg = FloatVector.broadcast(Vec.S, g);
                    FloatVector vgx = FloatVector.broadcast(Vec.S, gx);
                    j = 0;
                    for (; j <= c - Vec.L; j += Vec.L) {
                        FloatVector xh = FloatVector.fromArray(Vec.S, x, o + j).sub(vm).mul(vs);
                        FloatVector d = FloatVector.fromArray(Vec.S, dout, o + j).mul(FloatVector.fromArray(Vec.S, w, j))
                                .sub(vg).sub(xh.mul(vgx)).mul(vs);
                        if (accumulateInput) d = d.add(FloatVector.fromArray(Vec.S, dx, o + j));
                        d.intoArray(dx, o + j);
                    }
                    for (; j < c; j++) {
                        float xh = (x[o + j] - m) * s;
                        float d = s * (dout[o + j] * w[j] - g - xh * gx);
                        dx[o + j] = accumulateInput ? dx[o + j] + d : d;
                    }
                }
            }
        });
        NormChunks.addInOrder(part, chunks, 2 * c, 0, dw, c);
        NormChunks.addInOrder(part, chunks, 2 * c, c, db, c);
    }

    public static void backwardParamsCpu(float[] dout, float[] x, float[] mean, float[] rstd, float[] dw, float[] db,
                                         int rows, int c, boolean accumulate) {
        int blocks = (c + COLUMN_BLOCK - 1) / COLUMN_BLOCK;
        Workers.pool().parallelFor(blocks, 1, (from, to) -> {
            for (int blk = from; blk < to; blk++) {
                int j0 = blk * COLUMN_BLOCK;
                int j1 = Math.min(c, j0 + COLUMN_BLOCK);
                if (!accumulate) {
                    java.util.Arrays.fill(dw, j0, j1, 0f);
                    java.util.Arrays.fill(db, j0, j1, 0f);
                }
                for (int i = 0; i < rows; i++) {
                    int o = i * c;
                    FloatVector vm = FloatVector.broadcast(Vec.S, mean[i]);
                    FloatVector vs = FloatVector.broadcast(Vec.S, rstd[i]);
                    int j = j0;
                    for (; j <= j1 - Vec.L; j += Vec.L) {
                        FloatVector d = FloatVector.fromArray(Vec.S, dout, o + j);
                        FloatVector xh = FloatVector.fromArray(Vec.S, x, o + j).sub(vm).mul(vs);
                        d.fma(xh, FloatVector.fromArray(Vec.S, dw, j)).intoArray(dw, j);
                        d.add(FloatVector.fromArray(Vec.S, db, j)).intoArray(db, j);
                    }
                    for (; j < j1; j++) {
                        float d = dout[o + j];
                        dw[j] += d * (x[o + j] - mean[i]) * rstd[i];
                        db[j] += d;
                    }
                }
            }
        });
    }
}
