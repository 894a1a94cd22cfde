package sffn.nn;

import java.util.Arrays;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorSpecies;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;

/**
 * The SVD of a Gaussian matrix through its Gram matrix, for the SVD and orthogonal
 * initialisations of big structured layers.
 *
 * <p>For {@code A [m, n]} with {@code m >= n}: {@code A^T A = V S^2 V^T} is a symmetric
 * eigenproblem of size {@code n}, and {@code U = A V S^-1}; for {@code m < n} the same on
 * {@code A A^T}. The two products run here as blocked float64 dot products over contiguous rows
 * (Vector API); only the {@code min(m, n)}-sized eigenproblem goes through EJML. EJML's SVD of a
 * whole 8192 x 2048 matrix takes many minutes on one core; this route takes seconds.
 *
 * <p>Accuracy: forming the Gram matrix squares the condition number. A tall Gaussian matrix has
 * {@code cond(A) ~ (sqrt m + sqrt n) / (sqrt m - sqrt n)} (3 at 8192 x 2048), and even a square
 * one of size 4096 stays near {@code 1e4}, so in float64 the factors keep more digits than the
 * float32 weights they become. Matrices the route cannot serve (an eigenvalue not clearly
 * positive) are refused, and the callers fall back to EJML's SVD.
 *
 * <p>Reproducibility: lanes are summed in a fixed order with lane-wise operations only, so the
 * result does not depend on whether the JIT has compiled the loop yet (see {@code sffn.kernels.cpu.Vec}).
 */
final class GramSvd {
    private static final VectorSpecies<Double> S = DoubleVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Rows of {@code Y} and length of the k-slice kept in L2 while every 4-row block of {@code X} passes. */
    private static final int NC = 128;
    private static final int KC = 512;
    /** Smallest eigenvalue, relative to the largest, the route accepts. */
    private static final double MIN_RELATIVE_EIGENVALUE = 1e-12;

    private GramSvd() {
    }

    /** The {@code r} leading singular triplets: {@code u [m, r]}, {@code s [r]} descending, {@code vt [r, n]}, row-major. */
    record Top(double[] u, double[] s, double[] vt) {
    }

    /** The {@code r} leading singular triplets of {@code a [m, n]}, or null where the Gram route cannot serve it. */
    static Top top(double[] a, int m, int n, int r) {
        boolean tall = m >= n;
        int k = Math.min(m, n);
        double[] at = transpose(a, m, n);
        // tall: A^T A = V S^2 V^T over the columns of A (rows of A^T); wide: A A^T = U S^2 U^T.
        Eigen e = eigen(tall ? at : a, k, Math.max(m, n));
        if (e == null) return null;
        double[] s = new double[r];
        double[] lead = new double[r * k]; // the leading eigenvectors, one per row
        for (int c = 0; c < r; c++) {
            s[c] = Math.sqrt(e.values[c]);
            System.arraycopy(e.vectors, c * k, lead, c * k, k);
        }
        // The other side: tall: U^T = S^-1 V^T A^T, i.e. U[o, c] = <A row o, v_c> / s_c;
        // wide: V[i, c] = <A^T row i, u_c> / s_c.
        int other = tall ? m : n;
        double[] side = new double[other * r];
        productT(tall ? a : at, other, lead, r, k, side);
        for (int o = 0; o < other; o++) {
            for (int c = 0; c < r; c++) side[o * r + c] /= s[c];
        }
        double[] u;
        double[] vt;
        if (tall) {
            u = side;
            vt = lead;
        } else {
            u = transpose(lead, r, m);
            vt = transpose(side, n, r);
        }
        return new Top(u, s, vt);
    }

    /**
     * The orthogonal polar factor {@code U V^T} of {@code a [m, n]}: {@code A (A^T A)^-1/2} when
     * tall, {@code (A A^T)^-1/2 A} when wide; null where the Gram route cannot serve it.
     */
    static double[] polar(double[] a, int m, int n) {
        boolean tall = m >= n;
        int k = Math.min(m, n);
        double[] at = transpose(a, m, n);
        Eigen e = eigen(tall ? at : a, k, Math.max(m, n));
        if (e == null) return null;
        // W = E diag(lambda^-1/2) E^T [k, k], symmetric: W[i, j] = <E row i, E row j scaled by lambda^-1/2>.
        double[] eRows = transpose(e.vectors, k, k); // E [k, k], eigenvectors as columns
        double[] sRows = new double[k * k];
        for (int c = 0; c < k; c++) {
            double f = 1 / Math.sqrt(e.values[c]);
            for (int i = 0; i < k; i++) sRows[i * k + c] = eRows[i * k + c] * f;
        }
        double[] w = new double[k * k];
        productT(eRows, k, sRows, k, k, w);
        if (tall) {
            double[] q = new double[m * n];
            productT(a, m, w, k, n, q); // Q[o, j] = <A row o, W row j> (W symmetric)
            return q;
        }
        double[] qt = new double[n * m];
        productT(at, n, w, k, m, qt); // Q^T[i, o] = <A^T row i, W row o>
        return transpose(qt, n, m);
    }

    /** Eigenvalues (descending) of {@code X X^T} and their unit eigenvectors, one per row. */
    private record Eigen(double[] values, double[] vectors) {
    }

    /** The eigenpairs of the Gram matrix {@code X X^T} of {@code x [rows, len]}, or null when not clearly positive definite. */
    private static Eigen eigen(double[] x, int rows, int len) {
        double[] g = new double[rows * rows];
        gram(x, rows, len, g);
        EigenDecomposition_F64<DMatrixRMaj> d = DecompositionFactory_DDRM.eig(rows, true, true);
        if (!d.decompose(DMatrixRMaj.wrap(rows, rows, g))) return null;
        Integer[] order = new Integer[rows];
        double[] values = new double[rows];
        for (int i = 0; i < rows; i++) {
            order[i] = i;
            values[i] = d.getEigenvalue(i).getReal();
        }
        Arrays.sort(order, (p, q) -> Double.compare(values[q], values[p]));
        double max = values[order[0]];
        if (!(max > 0) || !(values[order[rows - 1]] > max * MIN_RELATIVE_EIGENVALUE)) return null;
        double[] sorted = new double[rows];
        double[] vectors = new double[rows * rows];
        for (int c = 0; c < rows; c++) {
            sorted[c] = values[order[c]];
            DMatrixRMaj v = d.getEigenVector(order[c]);
            if (v == null) return null;
            double norm = 0;
            for (int i = 0; i < rows; i++) norm += v.data[i] * v.data[i];
            double f = 1 / Math.sqrt(norm);
            for (int i = 0; i < rows; i++) vectors[c * rows + i] = v.data[i] * f;
        }
        return new Eigen(sorted, vectors);
    }

    static double[] transpose(double[] a, int rows, int cols) {
        double[] t = new double[rows * cols];
        for (int i0 = 0; i0 < rows; i0 += 32) {
            for (int j0 = 0; j0 < cols; j0 += 32) {
                for (int i = i0; i < Math.min(rows, i0 + 32); i++) {
                    for (int j = j0; j < Math.min(cols, j0 + 32); j++) t[j * rows + i] = a[i * cols + j];
                }
            }
        }
        return t;
    }

    /** {@code g = X X^T} for {@code x [rows, len]}: the upper blocks, mirrored. */
    static void gram(double[] x, int rows, int len, double[] g) {
        products(x, rows, x, rows, len, g, true);
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < i; j++) g[i * rows + j] = g[j * rows + i];
        }
    }

    /** {@code c [xr, yr] = X Y^T} for {@code x [xr, len]}, {@code y [yr, len]}. */
    static void productT(double[] x, int xr, double[] y, int yr, int len, double[] c) {
        products(x, xr, y, yr, len, c, false);
    }

    /**
     * {@code c[i, j] = sum_k x[i, k] y[j, k]}, the k-loop cut into slices of {@link #KC} added in
     * order, so each element's sum has one fixed order. {@code upper}: only blocks with
     * {@code j >= i}'s block (the diagonal blocks whole).
     */
    private static void products(double[] x, int xr, double[] y, int yr, int len, double[] c, boolean upper) {
        Arrays.fill(c, 0, xr * yr, 0);
        double[] lanes = new double[L];
        for (int j0 = 0; j0 < yr; j0 += NC) {
            int j1 = Math.min(yr, j0 + NC);
            for (int k0 = 0; k0 < len; k0 += KC) {
                int k1 = Math.min(len, k0 + KC);
                int iEnd = upper ? Math.min(xr, j1) : xr;
                for (int i = 0; i < iEnd; i += 4) {
                    int jStart = upper ? Math.max(j0, i) : j0;
                    for (int j = jStart; j < j1; j += 4) {
                        if (i + 4 <= xr && j + 4 <= j1) {
                            block4x4(x, i, y, j, len, k0, k1, c, yr, lanes);
                        } else {
                            for (int ii = i; ii < Math.min(xr, i + 4); ii++) {
                                for (int jj = j; jj < Math.min(j1, j + 4); jj++) {
                                    c[ii * yr + jj] += dot(x, ii * len, y, jj * len, k0, k1, lanes);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    private static void block4x4(double[] x, int i, double[] y, int j, int len, int k0, int k1, double[] c, int yr,
            double[] lanes) {
        int x0 = i * len;
        int x1 = x0 + len;
        int x2 = x1 + len;
        int x3 = x2 + len;
        int y0 = j * len;
        int y1 = y0 + len;
        int y2 = y1 + len;
        int y3 = y2 + len;
        DoubleVector a00 = DoubleVector.zero(S), a01 = a00, a02 = a00, a03 = a00;
        DoubleVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        DoubleVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        DoubleVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        int k = k0;
        for (int upper = k1 - L; k <= upper; k += L) {
            DoubleVector p0 = DoubleVector.fromArray(S, x, x0 + k);
            DoubleVector p1 = DoubleVector.fromArray(S, x, x1 + k);
            DoubleVector p2 = DoubleVector.fromArray(S, x, x2 + k);
            DoubleVector p3 = DoubleVector.fromArray(S, x, x3 + k);
            DoubleVector q = DoubleVector.fromArray(S, y, y0 + k);
            a00 = p0.fma(q, a00);
            a10 = p1.fma(q, a10);
            a20 = p2.fma(q, a20);
            a30 = p3.fma(q, a30);
            q = DoubleVector.fromArray(S, y, y1 + k);
            a01 = p0.fma(q, a01);
            a11 = p1.fma(q, a11);
            a21 = p2.fma(q, a21);
            a31 = p3.fma(q, a31);
            q = DoubleVector.fromArray(S, y, y2 + k);
            a02 = p0.fma(q, a02);
            a12 = p1.fma(q, a12);
            a22 = p2.fma(q, a22);
            a32 = p3.fma(q, a32);
            q = DoubleVector.fromArray(S, y, y3 + k);
            a03 = p0.fma(q, a03);
            a13 = p1.fma(q, a13);
            a23 = p2.fma(q, a23);
            a33 = p3.fma(q, a33);
        }
        int co = i * yr + j;
        add(c, co, a00, x, x0, y, y0, k, k1, lanes);
        add(c, co + 1, a01, x, x0, y, y1, k, k1, lanes);
        add(c, co + 2, a02, x, x0, y, y2, k, k1, lanes);
        add(c, co + 3, a03, x, x0, y, y3, k, k1, lanes);
        co += yr;
        add(c, co, a10, x, x1, y, y0, k, k1, lanes);
        add(c, co + 1, a11, x, x1, y, y1, k, k1, lanes);
        add(c, co + 2, a12, x, x1, y, y2, k, k1, lanes);
        add(c, co + 3, a13, x, x1, y, y3, k, k1, lanes);
        co += yr;
        add(c, co, a20, x, x2, y, y0, k, k1, lanes);
        add(c, co + 1, a21, x, x2, y, y1, k, k1, lanes);
        add(c, co + 2, a22, x, x2, y, y2, k, k1, lanes);
        add(c, co + 3, a23, x, x2, y, y3, k, k1, lanes);
        co += yr;
        add(c, co, a30, x, x3, y, y0, k, k1, lanes);
        add(c, co + 1, a31, x, x3, y, y1, k, k1, lanes);
        add(c, co + 2, a32, x, x3, y, y2, k, k1, lanes);
        add(c, co + 3, a33, x, x3, y, y3, k, k1, lanes);
    }

    /** {@code c[co] +=} the lanes of {@code acc} plus the scalar tail {@code [k, k1)} of one dot product. */
    private static void add(double[] c, int co, DoubleVector acc, double[] x, int xo, double[] y, int yo, int k, int k1,
            double[] lanes) {
        double sum = sum(acc, lanes);
        for (int t = k; t < k1; t++) sum += x[xo + t] * y[yo + t];
        c[co] += sum;
    }

    private static double dot(double[] x, int xo, double[] y, int yo, int k0, int k1, double[] lanes) {
        DoubleVector acc = DoubleVector.zero(S);
        int k = k0;
        for (int upper = k1 - L; k <= upper; k += L) {
            acc = DoubleVector.fromArray(S, x, xo + k).fma(DoubleVector.fromArray(S, y, yo + k), acc);
        }
        double sum = sum(acc, lanes);
        for (; k < k1; k++) sum += x[xo + k] * y[yo + k];
        return sum;
    }

    /** The lanes' sum, pairwise in a fixed order (not {@code reduceLanes}, whose order differs between JIT tiers). */
    private static double sum(DoubleVector v, double[] lanes) {
        v.intoArray(lanes, 0);
        for (int w = L / 2; w >= 1; w /= 2) {
            for (int l = 0; l < w; l++) lanes[l] += lanes[l + w];
        }
        return lanes[0];
    }
}
