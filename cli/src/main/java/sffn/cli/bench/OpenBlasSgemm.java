package sffn.cli.bench;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas;
import org.bytedeco.openblas.global.openblas_full;

/**
 * The yardstick: OpenBLAS {@code cblas_sgemm} (row-major) on native copies of the operands, so
 * that no JNI array copy is timed. {@code C[M,N] = op(A) . op(B)} with the same transposes and
 * leading dimensions as the sffn call it is compared with. Also the baseline of the JMH
 * benchmarks in {@code bench/}.
 */
public final class OpenBlasSgemm implements AutoCloseable {
    private final boolean transA;
    private final boolean transB;
    private final int m;
    private final int n;
    private final int k;
    private final FloatPointer a;
    private final FloatPointer b;
    private final FloatPointer c;

    /** {@code a} holds op(A) as [M,K] ([K,M] when transA), {@code b} op(B) as [K,N] ([N,K] when transB). */
    public OpenBlasSgemm(boolean transA, boolean transB, int m, int n, int k, float[] a, float[] b) {
        this.transA = transA;
        this.transB = transB;
        this.m = m;
        this.n = n;
        this.k = k;
        this.a = new FloatPointer(a);
        this.b = new FloatPointer(b);
        this.c = new FloatPointer((long) m * n);
    }

    public void run() {
        openblas.cblas_sgemm(openblas.CblasRowMajor,
                transA ? openblas.CblasTrans : openblas.CblasNoTrans,
                transB ? openblas.CblasTrans : openblas.CblasNoTrans,
                m, n, k, 1f, a, transA ? m : k, b, transB ? k : n, 0f, c, n);
    }

    @Override
    public void close() {
        a.close();
        b.close();
        c.close();
    }

    public static void setThreads(int threads) {
        openblas_full.openblas_set_num_threads(threads);
    }

    public static int threads() {
        return openblas_full.openblas_get_num_threads();
    }

    /** The kernel family OpenBLAS picked for this CPU, e.g. "Cooperlake" or "Haswell". */
    public static String coreName() {
        return openblas_full.openblas_get_corename().getString();
    }

    public static String config() {
        return openblas_full.openblas_get_config().getString();
    }
}
