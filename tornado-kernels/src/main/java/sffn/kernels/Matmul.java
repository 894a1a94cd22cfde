package sffn.kernels;

import sffn.kernels.cpu.Sgemm;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.annotations.Parallel;

/**
 * Dense matmul with the weight in PyTorch's [out, in] layout, and the two products backward needs.
 *
 * <pre>
 *   forward:        C[M,N]  (+)= A[M,K] . B[N,K]^T (+ bias[N])
 *   backwardInput:  dA[M,K] (+)= dC[M,N] . B[N,K]
 *   backwardWeight: dB[N,K] (+)= dC[M,N]^T . A[M,K]
 *   backwardBias:   dbias[N] (+)= sum_i dC[i,N]
 * </pre>
 *
 * {@code accumulate} is 1 to add into the output, 0 to overwrite it.
 *
 * <p>Three bodies: the loop-parallel portable ones (also the plain-Java reference), the CPU ones,
 * and tiled KernelContext ones for GPUs, where a work-group of {@code TILE x TILE} work-items
 * computes one output tile from tiles of the two inputs staged in local memory. A tiled kernel
 * runs on a 2-D grid of {@code roundUp(outCols, TILE) x roundUp(outRows, TILE)} work-items with
 * {@code TILE x TILE} work-groups (dimension 0 along the output's columns, so neighbouring
 * work-items touch neighbouring addresses); it cannot run as plain Java.
 */
public final class Matmul {
    private Matmul() {
    }

    // ---- portable bodies -------------------------------------------------------------------

    public static void forward(float[] a, float[] b, int bOff, float[] bias, int biasOff, float[] c, int m, int n,
                               int k, int hasBias, int accumulate) {
        for (@Parallel int i = 0; i < m; i++) {
            for (@Parallel int j = 0; j < n; j++) {
                float s = 0f;
                for (int kk = 0; kk < k; kk++) {
                    s += a[i * k + kk] * b[bOff + j * k + kk];
                }
                if (hasBias == 1) {
                    s += bias[biasOff + j];
                }
                if (accumulate == 1) {
                    s += c[i * n + j];
                }
                c[i * n + j] = s;
            }
        }
    }

    public static void backwardInput(float[] dc, float[] b, int bOff, float[] da, int m, int n, int k, int accumulate) {
        for (@Parallel int i = 0; i < m; i++) {
            for (@Parallel int kk = 0; kk < k; kk++) {
                float s = 0f;
                for (int j = 0; j < n; j++) {
                    s += dc[i * n + j] * b[bOff + j * k + kk];
                }
                if (accumulate == 1) {
                    s += da[i * k + kk];
                }
                da[i * k + kk] = s;
            }
        }
    }

    public static void backwardWeight(float[] dc, float[] a, float[] db, int dbOff, int m, int n, int k, int accumulate) {
        for (@Parallel int j = 0; j < n; j++) {
            for (@Parallel int kk = 0; kk < k; kk++) {
                float s = 0f;
                for (int i = 0; i < m; i++) {
                    s += dc[i * n + j] * a[i * k + kk];
                }
                if (accumulate == 1) {
                    s += db[dbOff + j * k + kk];
                }
                db[dbOff + j * k + kk] = s;
            }
        }
    }

    public static void backwardBias(float[] dc, float[] dbias, int dbiasOff, int m, int n, int accumulate) {
        for (@Parallel int j = 0; j < n; j++) {
            float s = 0f;
            for (int i = 0; i < m; i++) {
                s += dc[i * n + j];
            }
            if (accumulate == 1) {
                s += dbias[dbiasOff + j];
            }
            dbias[dbiasOff + j] = s;
        }
    }

    // ---- tiled KernelContext bodies (GPUs; see the class comment for the grid) -------------

    /** {@link #forward} without bias (a separate bias add follows it), one output tile per work-group. */
    public static void forwardTiled(KernelContext ctx, float[] a, float[] b, int bOff, float[] c, int m, int n, int k,
                                    int accumulate) {
        int tj = ctx.localIdx;
        int ti = ctx.localIdy;
        int i0 = ctx.groupIdy * WorkGroups.TILE;
        int j0 = ctx.groupIdx * WorkGroups.TILE;
        // as[ii][kk] = A[i0+ii, k0+kk], bs[jj][kk] = B[j0+jj, k0+kk]; zero outside the matrices.
        float[] as = ctx.allocateFloatLocalArray(WorkGroups.TILE * WorkGroups.TILE);
        float[] bs = ctx.allocateFloatLocalArray(WorkGroups.TILE * WorkGroups.TILE);
        float s = 0f;
        for (int k0 = 0; k0 < k; k0 += WorkGroups.TILE) {
            int kk = k0 + tj;
            float av = 0f;
            if (i0 + ti < m && kk < k) {
                av = a[(i0 + ti) * k + kk];
            }
            as[ti * WorkGroups.TILE + tj] = av;
            float bv = 0f;
            if (j0 + ti < n && kk < k) {
                bv = b[bOff + (j0 + ti) * k + kk];
            }
            bs[ti * WorkGroups.TILE + tj] = bv;
            ctx.localBarrier();
            for (int q = 0; q < WorkGroups.TILE; q++) {
                s += as[ti * WorkGroups.TILE + q] * bs[tj * WorkGroups.TILE + q];
            }
            ctx.localBarrier();
        }
        int i = i0 + ti;
        int j = j0 + tj;
        if (i < m && j < n) {
            if (accumulate == 1) {
                s += c[i * n + j];
            }
            c[i * n + j] = s;
        }
    }

    /** {@link #backwardInput}: output tile of dA [M,K], summing over N. */
    public static void backwardInputTiled(KernelContext ctx, float[] dc, float[] b, int bOff, float[] da, int m, int n, int k,
                                          int accumulate) {
        int tk = ctx.localIdx;
        int ti = ctx.localIdy;
        int i0 = ctx.groupIdy * WorkGroups.TILE;
        int k0 = ctx.groupIdx * WorkGroups.TILE;
        // ds[ii][jj] = dC[i0+ii, j0+jj], bs[jj][kk] = B[j0+jj, k0+kk].
        float[] ds = ctx.allocateFloatLocalArray(WorkGroups.TILE * WorkGroups.TILE);
        float[] bs = ctx.allocateFloatLocalArray(WorkGroups.TILE * WorkGroups.TILE);
        float s = 0f;
        for (int j0 = 0; j0 < n; j0 += WorkGroups.TILE) {
            float dv = 0f;
            if (i0 + ti < m && j0 + tk < n) {
                dv = dc[(i0 + ti) * n + j0 + tk];
            }
            ds[ti * WorkGroups.TILE + tk] = dv;
            float bv = 0f;
            if (j0 + ti < n && k0 + tk < k) {
                bv = b[bOff + (j0 + ti) * k + k0 + tk];
            }
            bs[ti * WorkGroups.TILE + tk] = bv;
            ctx.localBarrier();
            for (int q = 0; q < WorkGroups.TILE; q++) {
                s += ds[ti * WorkGroups.TILE + q] * bs[q * WorkGroups.TILE + tk];
            }
            ctx.localBarrier();
        }
        int i = i0 + ti;
        int kk = k0 + tk;
        if (i < m && kk < k) {
            if (accumulate == 1) {
                s += da[i * k + kk];
            }
            da[i * k + kk] = s;
        }
    }

    /** {@link #backwardWeight}: output tile of dB [N,K], summing over M. */
    public static void backwardWeightTiled(KernelContext ctx, float[] dc, float[] a, float[] db, int dbOff, int m, int n, int k,
                                           int accumulate) {
        int tk = ctx.localIdx;
        int tj = ctx.localIdy;
        int j0 = ctx.groupIdy * WorkGroups.TILE;
        int k0 = ctx.groupIdx * WorkGroups.TILE;
        // ds[ii][jj] = dC[i0+ii, j0+jj], as[ii][kk] = A[i0+ii, k0+kk].
        float[] ds = ctx.allocateFloatLocalArray(WorkGroups.TILE * WorkGroups.TILE);
        float[] as = ctx.allocateFloatLocalArray(WorkGroups.TILE * WorkGroups.TILE);
        float s = 0f;
        for (int i0 = 0; i0 < m; i0 += WorkGroups.TILE) {
            float dv = 0f;
            if (i0 + tj < m && j0 + tk < n) {
                dv = dc[(i0 + tj) * n + j0 + tk];
            }
            ds[tj * WorkGroups.TILE + tk] = dv;
            float av = 0f;
            if (i0 + tj < m && k0 + tk < k) {
                av = a[(i0 + tj) * k + k0 + tk];
            }
            as[tj * WorkGroups.TILE + tk] = av;
            ctx.localBarrier();
            for (int q = 0; q < WorkGroups.TILE; q++) {
                s += ds[q * WorkGroups.TILE + tj] * as[q * WorkGroups.TILE + tk];
            }
            ctx.localBarrier();
        }
        int j = j0 + tj;
        int kk = k0 + tk;
        if (j < n && kk < k) {
            if (accumulate == 1) {
                s += db[dbOff + j * k + kk];
            }
            db[dbOff + j * k + kk] = s;
        }
    }

    // ---- CPU bodies ------------------------------------------------------------------------

    public static void forwardCpu(float[] a, float[] b, float[] bias, float[] c, int m, int n, int k,
                                  boolean accumulate) {
        Sgemm.gemm(false, true, m, n, k, a, 0, k, b, 0, k, c, 0, n, accumulate);
        if (bias != null) {
            Bias.addCpu(c, bias, m, n);
        }
    }

    public static void backwardInputCpu(float[] dc, float[] b, float[] da, int m, int n, int k, boolean accumulate) {
        Sgemm.gemm(false, false, m, k, n, dc, 0, n, b, 0, k, da, 0, k, accumulate);
    }

    public static void backwardWeightCpu(float[] dc, float[] a, float[] db, int m, int n, int k, boolean accumulate) {
        Sgemm.gemm(true, false, n, k, m, dc, 0, n, a, 0, k, db, 0, k, accumulate);
    }

    public static void backwardBiasCpu(float[] dc, float[] dbias, int m, int n, boolean accumulate) {
        Bias.backwardCpu(dc, dbias, m, n, accumulate);
    }
}
