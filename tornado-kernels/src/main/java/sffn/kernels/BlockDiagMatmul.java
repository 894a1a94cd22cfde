package sffn.kernels;

import sffn.kernels.cpu.Sgemm;
import sffn.kernels.cpu.Workers;
import uk.ac.manchester.tornado.api.annotations.Parallel;

/**
 * Block-diagonal batched matmul, the building block of BlockDense and BlockShuffle:
 * {@code nb} independent blocks, block {@code b} maps {@code x[r, b*p .. b*p+p)} to
 * {@code y[r, b*q .. b*q+q)} with {@code w[b]} of shape [q, p].
 *
 * <pre>
 *   forward:        y[r, b*q+i]  (+)= sum_j w[b,i,j] x[r, b*p+j]       x [R, nb*p], y [R, nb*q]
 *   backwardInput:  dx[r, b*p+j] (+)= sum_i w[b,i,j] dy[r, b*q+i]
 *   backwardWeight: dw[b,i,j]    (+)= sum_r dy[r, b*q+i] x[r, b*p+j]    w, dw [nb, q, p]
 * </pre>
 */
public final class BlockDiagMatmul {
    private BlockDiagMatmul() {
    }

    // ---- portable bodies -------------------------------------------------------------------

    public static void forward(float[] x, float[] w, int wOff, float[] y, int rows, int nb, int q, int p, int accumulate) {
        for (@Parallel int r = 0; r < rows; r++) {
            for (@Parallel int o = 0; o < nb * q; o++) {
                int b = o / q;
                float s = 0f;
                for (int j = 0; j < p; j++) {
                    s += w[wOff + o * p + j] * x[r * nb * p + b * p + j];
                }
                if (accumulate == 1) {
                    s += y[r * nb * q + o];
                }
                y[r * nb * q + o] = s;
            }
        }
    }

    public static void backwardInput(float[] dy, float[] w, int wOff, float[] dx, int rows, int nb, int q, int p,
                                     int accumulate) {
        for (@Parallel int r = 0; r < rows; r++) {
            for (@Parallel int o = 0; o < nb * p; o++) {
                int b = o / p;
                int j = o - b * p;
                float s = 0f;
                for (int i = 0; i < q; i++) {
                    s += w[wOff + (b * q + i) * p + j] * dy[r * nb * q + b * q + i];
                }
                if (accumulate == 1) {
                    s += dx[r * nb * p + o];
                }
                dx[r * nb * p + o] = s;
            }
        }
    }

    public static void backwardWeight(float[] dy, float[] x, float[] dw, int dwOff, int rows, int nb, int q, int p,
                                      int accumulate) {
        for (@Parallel int bi = 0; bi < nb * q; bi++) {
            for (@Parallel int j = 0; j < p; j++) {
                int b = bi / q;
                float s = 0f;
                for (int r = 0; r < rows; r++) {
                    s += dy[r * nb * q + bi] * x[r * nb * p + b * p + j];
                }
                if (accumulate == 1) {
                    s += dw[dwOff + bi * p + j];
                }
                dw[dwOff + bi * p + j] = s;
            }
        }
    }

    // ---- CPU bodies: one parallel region over blocks x tiles, a serial GEMM per tile ---------
    //
    // Forward and backwardInput split the rows into tiles whose size depends on the shape alone
    // (the GEMM picks its path by the tile's row count, and the path fixes the summation order);
    // backwardWeight reduces over all rows, so it splits each block's output rows instead, which
    // changes no summation order.

    /** Row tiles of at most about this many rows: 384 keeps the per-tile packing of w under 2%. */
    private static final int ROW_TILE = 384;

    private static int rowTile(int rows) {
        int tiles = Math.max(1, (rows + ROW_TILE - 1) / ROW_TILE);
        return (rows + tiles - 1) / tiles;
    }

    public static void forwardCpu(float[] x, float[] w, float[] y, int rows, int nb, int q, int p, boolean accumulate) {
        int rt = rowTile(rows);
        int tiles = (rows + rt - 1) / rt;
        Workers.pool().parallelFor(nb * tiles, 1, (long) rows * nb * q * p, (from, to) -> {
            for (int item = from; item < to; item++) {
                int b = item % nb;
                int r0 = item / nb * rt;
                int r1 = Math.min(rows, r0 + rt);
                Sgemm.gemmSerial(false, true, r1 - r0, q, p, x, r0 * nb * p + b * p, nb * p, w, b * q * p, p,
                        y, r0 * nb * q + b * q, nb * q, accumulate);
            }
        });
    }

    public static void backwardInputCpu(float[] dy, float[] w, float[] dx, int rows, int nb, int q, int p, boolean accumulate) {
        int rt = rowTile(rows);
        int tiles = (rows + rt - 1) / rt;
        Workers.pool().parallelFor(nb * tiles, 1, (long) rows * nb * q * p, (from, to) -> {
            for (int item = from; item < to; item++) {
                int b = item % nb;
                int r0 = item / nb * rt;
                int r1 = Math.min(rows, r0 + rt);
                Sgemm.gemmSerial(false, false, r1 - r0, p, q, dy, r0 * nb * q + b * q, nb * q, w, b * q * p, p,
                        dx, r0 * nb * p + b * p, nb * p, accumulate);
            }
        });
    }

    public static void backwardWeightCpu(float[] dy, float[] x, float[] dw, int rows, int nb, int q, int p, boolean accumulate) {
        // Enough tiles of dw rows for two items per thread, each a multiple of the 6-row micro-tile.
        int threads = Workers.pool().threads();
        int split = Math.max(1, Math.min((2 * threads + nb - 1) / nb, q / 48));
        int qt = (q + split - 1) / split;
        int qTile = Math.min(q, (qt + 5) / 6 * 6);
        int tiles = (q + qTile - 1) / qTile;
        Workers.pool().parallelFor(nb * tiles, 1, (long) rows * nb * q * p, (from, to) -> {
            for (int item = from; item < to; item++) {
                int b = item % nb;
                int i0 = item / nb * qTile;
                int i1 = Math.min(q, i0 + qTile);
                Sgemm.gemmSerial(true, false, i1 - i0, p, rows, dy, b * q + i0, nb * q, x, b * p, nb * p,
                        dw, (b * q + i0) * p, p, accumulate);
            }
        });
    }
}
