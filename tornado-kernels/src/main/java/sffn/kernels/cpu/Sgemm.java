package sffn.kernels.cpu;

/**
 * Single-precision GEMM on the CPU: {@code C[M,N] (+)= op(A)[M,K] . op(B)[K,N]}, where
 * {@code op(A)[i,k] = transA ? A[k*lda + i] : A[i*lda + k]} and
 * {@code op(B)[k,j] = transB ? B[j*ldb + k] : B[k*ldb + j]} (offsets added).
 * Every element of C is produced by one thread with a fixed summation order.
 */
public final class Sgemm {
    private Sgemm() {
    }

    public static void gemm(boolean transA, boolean transB, int m, int n, int k,
                            float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                            float[] c, int cOff, int ldc, boolean accumulate) {
        if (m == 0 || n == 0) return;
        Workers.pool().parallelFor(m, (from, to) -> {
            float[] arow = new float[k];
            float[] crow = new float[n];
            for (int i = from; i < to; i++) {
                for (int kk = 0; kk < k; kk++) {
                    arow[kk] = transA ? a[aOff + kk * lda + i] : a[aOff + i * lda + kk];
                }
                if (transB) {
                    for (int j = 0; j < n; j++) crow[j] = Vec.dot(arow, 0, b, bOff + j * ldb, k);
                } else {
                    java.util.Arrays.fill(crow, 0f);
                    for (int kk = 0; kk < k; kk++) Vec.axpy(arow[kk], b, bOff + kk * ldb, crow, 0, n);
                }
                int co = cOff + i * ldc;
                for (int j = 0; j < n; j++) c[co + j] = accumulate ? c[co + j] + crow[j] : crow[j];
            }
        });
    }
}
