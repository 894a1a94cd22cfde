package sffn.bench;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas;
import org.bytedeco.openblas.global.openblas_full;

/**
 * OpenBLAS {@code cblas_sgemm} (row-major) on native copies of the operands, so that no JNI
 * array copy is timed, with as many threads as sffn's pool. The baseline of the benchmarks.
 */
final class OpenBlas implements AutoCloseable {
    private final boolean transA;
    private final boolean transB;
    private final int m;
    private final int n;
    private final int k;
    private final FloatPointer a;
    private final FloatPointer b;
    private final FloatPointer c;

    /** {@code C[M,N] = op(A) . op(B)}; a holds A as [M,K] ([K,M] when transA), b holds B as [K,N] ([N,K] when transB). */
    OpenBlas(boolean transA, boolean transB, int m, int n, int k, float[] a, float[] b, int threads) {
        openblas_full.openblas_set_num_threads(threads);
        this.transA = transA;
        this.transB = transB;
        this.m = m;
        this.n = n;
        this.k = k;
        this.a = new FloatPointer(a);
        this.b = new FloatPointer(b);
        this.c = new FloatPointer((long) m * n);
    }

    void sgemm() {
        openblas.cblas_sgemm(openblas.CblasRowMajor, transA ? openblas.CblasTrans : openblas.CblasNoTrans,
                transB ? openblas.CblasTrans : openblas.CblasNoTrans, m, n, k, 1f, a, transA ? m : k, b, transB ? k : n,
                0f, c, n);
    }

    static String describe() {
        return openblas_full.openblas_get_corename().getString() + ", " + openblas_full.openblas_get_num_threads() + " threads";
    }

    @Override
    public void close() {
        a.close();
        b.close();
        c.close();
    }
}
