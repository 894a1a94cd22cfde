package sffn.kernels.cpu;

/**
 * Single-precision GEMM on the CPU: {@code C[M,N] (+)= op(A)[M,K] . op(B)[K,N]}, where
 * {@code op(A)[i,k] = transA ? A[k*lda + i] : A[i*lda + k]} and
 * {@code op(B)[k,j] = transB ? B[j*ldb + k] : B[k*ldb + j]} (offsets added).
 *
 * <p>Every element of C is produced by one thread with a summation order fixed by (M, N, K,
 * transA, transB) alone, so results do not depend on the thread count or on timing. Two paths:
 * <ul>
 *   <li>{@link DotGemm} for {@code A . B^T} with at most {@link #DOT_MAX_M} rows (decoding,
 *       small batches): no packing, dot products vectorised along K;</li>
 *   <li>{@link PackedGemm} otherwise: B packed into cache blocks, a 6 x 48 register-blocked
 *       micro-kernel (6 x 16 where vectors are 256-bit).</li>
 * </ul>
 */
public final class Sgemm {
    /** Up to this many rows, {@code A . B^T} reads both operands in place rather than packing B. */
    public static final int DOT_MAX_M = 64;

    private Sgemm() {
    }

    /** {@code C (+)= op(A) . op(B)} on all threads of {@link Workers#pool()}. */
    public static void gemm(boolean transA, boolean transB, int m, int n, int k,
                            float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                            float[] c, int cOff, int ldc, boolean accumulate) {
        run(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate, true);
    }

    /**
     * The same product on the calling thread only, for kernels that parallelise over many
     * small products themselves (block-diagonal matmul, attention). Same results as {@link #gemm}.
     */
    public static void gemmSerial(boolean transA, boolean transB, int m, int n, int k,
                                  float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                                  float[] c, int cOff, int ldc, boolean accumulate) {
        run(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate, false);
    }

    private static void run(boolean transA, boolean transB, int m, int n, int k,
                            float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                            float[] c, int cOff, int ldc, boolean accumulate, boolean parallel) {
        if (m < 0 || n < 0 || k < 0) {
            throw new IllegalArgumentException("Sgemm: negative size m=" + m + " n=" + n + " k=" + k);
        }
        if (m == 0 || n == 0) return;
        if (k == 0) {
            if (!accumulate) {
                for (int i = 0; i < m; i++) java.util.Arrays.fill(c, cOff + i * ldc, cOff + i * ldc + n, 0f);
            }
            return;
        }
        if (!transA && transB && m <= DOT_MAX_M && DotGemm.AVAILABLE) {
            DotGemm.gemm(m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate, parallel);
        } else {
            PackedGemm.gemm(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate, parallel);
        }
    }
}
