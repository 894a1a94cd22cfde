package sffn.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;
import org.junit.jupiter.api.Test;

/** The Gram-matrix route against EJML's SVD of the whole matrix, on shapes that cross the blocking. */
class GramSvdTest {
    /** rows, cols, rank: tall, wide, square; sizes off the vector length and across the 128-row and 512-long blocks. */
    private static final int[][] SHAPES = {{37, 13, 5}, {13, 37, 7}, {130, 130, 64}, {600, 150, 40}, {150, 600, 149},
        {517, 131, 131}};

    private static DMatrixRMaj gaussian(int rows, int cols, long seed) {
        Random rng = new Random(seed);
        DMatrixRMaj a = new DMatrixRMaj(rows, cols);
        for (int i = 0; i < a.data.length; i++) a.data[i] = rng.nextGaussian() * 0.02;
        return a;
    }

    private record Reference(DMatrixRMaj u, double[] s, DMatrixRMaj vt) {
    }

    private static Reference reference(DMatrixRMaj a) {
        SingularValueDecomposition_F64<DMatrixRMaj> d = DecompositionFactory_DDRM.svd(a.numRows, a.numCols, true, true, true);
        assertTrue(d.decompose(a.copy()));
        DMatrixRMaj u = d.getU(null, false);
        DMatrixRMaj w = d.getW(null);
        DMatrixRMaj vt = d.getV(null, true);
        SingularOps_DDRM.descendingOrder(u, false, w, vt, true);
        double[] s = new double[Math.min(a.numRows, a.numCols)];
        for (int i = 0; i < s.length; i++) s[i] = w.get(i, i);
        return new Reference(u, s, vt);
    }

    @Test
    void leadingTripletsRebuildTheBestRankRApproximation() {
        for (int[] shape : SHAPES) {
            int m = shape[0], n = shape[1], r = shape[2];
            DMatrixRMaj a = gaussian(m, n, m * 31L + n);
            Reference ref = reference(a);
            GramSvd.Top t = GramSvd.top(a.data.clone(), m, n, r);
            assertNotNull(t);
            String at = m + "x" + n + " r" + r;
            for (int c = 0; c < r; c++) assertEquals(ref.s()[c], t.s()[c], 1e-11 * ref.s()[0], at + " s" + c);
            double err = 0;
            double norm = 0;
            for (int o = 0; o < m; o++) {
                for (int i = 0; i < n; i++) {
                    double want = 0;
                    double got = 0;
                    for (int c = 0; c < r; c++) {
                        want += ref.u().get(o, c) * ref.s()[c] * ref.vt().get(c, i);
                        got += t.u()[o * r + c] * t.s()[c] * t.vt()[c * n + i];
                    }
                    assertTrue(Double.isFinite(got), at);
                    err += (got - want) * (got - want);
                    norm += want * want;
                }
            }
            assertTrue(Math.sqrt(err / norm) < 1e-10, at + ": relative error " + Math.sqrt(err / norm));
            assertOrthonormalRows(t.vt(), r, n, at + " V^T");
            assertOrthonormalRows(GramSvd.transpose(t.u(), m, r), r, m, at + " U");
        }
    }

    @Test
    void polarFactorIsUVTransposed() {
        for (int[] shape : SHAPES) {
            int m = shape[0], n = shape[1];
            DMatrixRMaj a = gaussian(m, n, m * 17L + n);
            Reference ref = reference(a);
            DMatrixRMaj want = new DMatrixRMaj(m, n);
            CommonOps_DDRM.mult(ref.u(), ref.vt(), want);
            double[] q = GramSvd.polar(a.data.clone(), m, n);
            assertNotNull(q);
            for (int i = 0; i < m * n; i++) assertEquals(want.data[i], q[i], 1e-9, m + "x" + n + " element " + i);
        }
    }

    @Test
    void rankDeficientMatricesAreLeftToTheFullSvd() {
        int m = 40, n = 20;
        DMatrixRMaj a = gaussian(m, n, 3);
        for (int o = 0; o < m; o++) a.set(o, 7, a.get(o, 3)); // two equal columns: rank 19
        assertNull(GramSvd.top(a.data.clone(), m, n, 4));
        assertNull(GramSvd.polar(a.data.clone(), m, n));
    }

    @Test
    void lowRankInitIsTheRankRApproximationInFloat() {
        int in = 70, out = 203, r = 19;
        float[] lr1 = new float[r * in];
        float[] lr2 = new float[out * r];
        java.util.Arrays.fill(lr1, Float.NaN);
        java.util.Arrays.fill(lr2, Float.NaN);
        Init.lowRankSvd(lr1, lr2, in, out, r, 0.02, new Random(9));
        DMatrixRMaj a = new DMatrixRMaj(out, in);
        Random rng = new Random(9);
        for (int i = 0; i < a.data.length; i++) a.data[i] = rng.nextGaussian() * 0.02;
        Reference ref = reference(a);
        double err = 0;
        double norm = 0;
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                double want = 0;
                double got = 0;
                for (int c = 0; c < r; c++) {
                    want += ref.u().get(o, c) * ref.s()[c] * ref.vt().get(c, i);
                    got += (double) lr2[o * r + c] * lr1[c * in + i];
                }
                assertTrue(Double.isFinite(got));
                err += (got - want) * (got - want);
                norm += want * want;
            }
        }
        assertTrue(Math.sqrt(err / norm) < 1e-6, "relative error " + Math.sqrt(err / norm));
    }

    private static void assertOrthonormalRows(double[] x, int rows, int len, String what) {
        for (int i = 0; i < rows; i++) {
            for (int j = i; j < rows; j++) {
                double d = 0;
                for (int k = 0; k < len; k++) d += x[i * len + k] * x[j * len + k];
                assertEquals(i == j ? 1 : 0, d, 1e-10, what + " rows " + i + "," + j);
            }
        }
    }
}
