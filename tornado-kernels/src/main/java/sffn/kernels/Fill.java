package sffn.kernels;

import java.util.Arrays;
import sffn.kernels.cpu.Workers;
import uk.ac.manchester.tornado.api.annotations.Parallel;

/** Zeroing and copying whole buffers. */
public final class Fill {
    private Fill() {
    }

    public static void zero(float[] x, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            x[i] = 0f;
        }
    }

    /** Four buffers zeroed in one launch: one index space over a's na elements, then b's, c's and d's. */
    public static void zeroFour(float[] a, float[] b, float[] c, float[] d, int na, int nb, int nc, int nd) {
        for (@Parallel int i = 0; i < na + nb + nc + nd; i++) {
            if (i < na) {
                a[i] = 0f;
            } else if (i < na + nb) {
                b[i - na] = 0f;
            } else if (i < na + nb + nc) {
                c[i - na - nb] = 0f;
            } else {
                d[i - na - nb - nc] = 0f;
            }
        }
    }

    public static void zeroFourCpu(float[] a, float[] b, float[] c, float[] d, int na, int nb, int nc, int nd) {
        zeroCpu(a, na);
        zeroCpu(b, nb);
        zeroCpu(c, nc);
        zeroCpu(d, nd);
    }

    public static void copy(float[] src, float[] dst, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            dst[i] = src[i];
        }
    }

    /** {@code dst[b, :] = src[b * n + n - 1, :]}: the last of each sequence's n rows of width c. */
    public static void lastRows(float[] src, float[] dst, int batch, int n, int c) {
        for (@Parallel int b = 0; b < batch; b++) {
            for (@Parallel int j = 0; j < c; j++) {
                dst[b * c + j] = src[(b * n + n - 1) * c + j];
            }
        }
    }

    public static void lastRowsCpu(float[] src, float[] dst, int batch, int n, int c) {
        for (int b = 0; b < batch; b++) System.arraycopy(src, (b * n + n - 1) * c, dst, b * c, c);
    }

    public static void zeroCpu(float[] x, int n) {
        Workers.pool().parallelFor(n, Residual.GRAIN * 4, (from, to) -> Arrays.fill(x, from, to, 0f));
    }

    public static void copyCpu(float[] src, float[] dst, int n) {
        Workers.pool().parallelFor(n, Residual.GRAIN * 4, (from, to) -> System.arraycopy(src, from, dst, from, to - from));
    }
}
