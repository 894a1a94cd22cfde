package sffn.nn;

import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

/**
 * Initialisations of the paper's code. Every tensor draws from its own generator, seeded from the
 * run seed and the tensor's name, so a tensor's initial values do not depend on which other
 * tensors exist or the order they are made in. {@link Random} is used for its specified
 * algorithm: the same seed gives the same values on every JVM.
 */
public final class Init {
    private Init() {
    }

    /** A generator for the tensor {@code name} under run seed {@code seed}. */
    public static Random rng(long seed, String name) {
        long h = seed * 0x9E3779B97F4A7C15L + name.hashCode();
        h = (h ^ (h >>> 30)) * 0xBF58476D1CE4E5B9L;
        h = (h ^ (h >>> 27)) * 0x94D049BB133111EBL;
        return new Random(h ^ (h >>> 31));
    }

    public static void normal(float[] dst, double std, Random rng) {
        for (int i = 0; i < dst.length; i++) dst[i] = (float) (rng.nextGaussian() * std);
    }

    private static DMatrixRMaj gaussian(int rows, int cols, double std, Random rng) {
        DMatrixRMaj a = new DMatrixRMaj(rows, cols);
        for (int i = 0; i < a.data.length; i++) a.data[i] = rng.nextGaussian() * std;
        return a;
    }

    /** U, singular values (descending) and V^T of a compact SVD. */
    private record Svd(DMatrixRMaj u, double[] s, DMatrixRMaj vt) {
    }

    private static Svd svd(DMatrixRMaj a) {
        SingularValueDecomposition_F64<DMatrixRMaj> d =
                DecompositionFactory_DDRM.svd(a.numRows, a.numCols, true, true, true);
        if (!d.decompose(a.copy())) {
            throw new IllegalStateException("SVD did not converge for a " + a.numRows + "x" + a.numCols + " matrix");
        }
        DMatrixRMaj u = d.getU(null, false);
        DMatrixRMaj w = d.getW(null);
        DMatrixRMaj vt = d.getV(null, true);
        SingularOps_DDRM.descendingOrder(u, false, w, vt, true);
        int k = Math.min(w.numRows, w.numCols);
        double[] s = new double[k];
        for (int i = 0; i < k; i++) s[i] = w.get(i, i);
        return new Svd(u, s, vt);
    }

    /**
     * Writes U V^T of the SVD of a normal(0, std) [rows, cols] matrix into
     * {@code dst[off .. off + rows*cols)}: a (semi-)orthogonal matrix, as the paper's ortho init.
     */
    public static void orthogonal(float[] dst, int off, int rows, int cols, double std, Random rng) {
        DMatrixRMaj a = gaussian(rows, cols, std, rng);
        double[] q = GramSvd.polar(a.data, rows, cols);
        if (q == null) {
            Svd d = svd(a);
            DMatrixRMaj uvt = new DMatrixRMaj(rows, cols);
            CommonOps_DDRM.mult(d.u(), d.vt(), uvt);
            q = uvt.data;
        }
        for (int i = 0; i < rows * cols; i++) dst[off + i] = (float) q[i];
    }

    /**
     * LowRank's SVD init: with a normal(0, std) dense [out, in] matrix {@code W = U S V^T},
     * {@code lr1 = sqrt(S_r) V_r^T} [r, in] and {@code lr2 = U_r sqrt(S_r)} [out, r].
     */
    public static void lowRankSvd(float[] lr1, float[] lr2, int in, int out, int r, double std, Random rng) {
        DMatrixRMaj a = gaussian(out, in, std, rng);
        GramSvd.Top t = GramSvd.top(a.data, out, in, r);
        if (t == null) {
            Svd d = svd(a);
            double[] u = new double[out * r];
            double[] vt = new double[r * in];
            for (int o = 0; o < out; o++) {
                for (int i = 0; i < r; i++) u[o * r + i] = d.u().get(o, i);
            }
            System.arraycopy(d.vt().data, 0, vt, 0, r * in);
            t = new GramSvd.Top(u, java.util.Arrays.copyOf(d.s(), r), vt);
        }
        for (int i = 0; i < r; i++) {
            double root = Math.sqrt(t.s()[i]);
            for (int j = 0; j < in; j++) lr1[i * in + j] = (float) (root * t.vt()[i * in + j]);
            for (int o = 0; o < out; o++) lr2[o * r + i] = (float) (t.u()[o * r + i] * root);
        }
    }
}
