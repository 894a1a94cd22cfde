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
 * Kernels that run many small products in their own parallel region use {@link #gemmSerial}, and
 * {@link #packB} with {@link #gemmSerialPackedB} where several products share one B.
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

    /** Floats {@link #packB} writes for op(B) of K x N. */
    public static int packedBSize(int k, int n) {
        return k * PackedGemm.paddedColumns(n);
    }

    /**
     * Packs op(B) [K, N] once for several {@link #gemmSerialPackedB} calls that share it (for
     * example one head's keys for all query tiles and all heads of its group), into
     * {@code bp[bpOff .. bpOff + packedBSize(k, n))}.
     */
    public static void packB(boolean transB, int k, int n, float[] b, int bOff, int ldb, float[] bp, int bpOff) {
        PackedGemm.packAll(transB, k, n, b, bOff, ldb, bp, bpOff);
    }

    /**
     * {@code C[M, n] (+)= op(A)[M, K] . op(B)[K, 0:n]} on the calling thread with op(B) packed by
     * {@link #packB} for {@code packedN >= n} columns, of which the first n are used. Always the
     * packed path's summation order (the same as {@link #gemm} for a transposed A, or for M above
     * {@link #DOT_MAX_M}).
     */
    public static void gemmSerialPackedB(boolean transA, int m, int n, int k, float[] a, int aOff, int lda,
                                         float[] bp, int bpOff, int packedN, float[] c, int cOff, int ldc,
                                         boolean accumulate) {
        if (n > packedN) {
            throw new IllegalArgumentException("Sgemm: n=" + n + " columns requested from B packed for " + packedN);
        }
        if (m == 0 || n == 0) return;
        if (k == 0) {
            if (!accumulate) {
                for (int i = 0; i < m; i++) java.util.Arrays.fill(c, cOff + i * ldc, cOff + i * ldc + n, 0f);
            }
            return;
        }
        PackedGemm.gemmPackedB(transA, m, n, k, a, aOff, lda, bp, bpOff, packedN, c, cOff, ldc, accumulate);
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
        // A product too small to pay for the hand-off to the other threads runs here (Workers.SERIAL_WORK).
        parallel &= (long) m * n * k >= Workers.SERIAL_WORK;
        if (!transA && transB && m <= DOT_MAX_M && DotGemm.AVAILABLE) {
            DotGemm.gemm(m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate, parallel);
        } else {
            PackedGemm.gemm(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate, parallel);
        }
    }
}
