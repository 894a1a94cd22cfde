package sffn.kernels.tornado;

/**
 * The arguments of {@code cublasSgemm} (or {@code cublasSgemmStridedBatched} when {@code batch > 1})
 * for a row-major {@link GemmShape}. cuBLAS is column-major: a row-major {@code X [r, c]} with
 * leading dimension {@code ld} is the column-major {@code X^T [c, r]} with the same {@code ld}, so
 * {@code C = opA opB} is computed as {@code C^T = opB^T opA^T}: the operands swap, each keeps its own
 * leading dimension, and a row-major operand that is not transposed needs no transpose in cuBLAS.
 * The bias is not part of it (cuBLAS has none): the caller adds it after.
 *
 * <pre>
 *   C[j + i ldc + z strideC] = alpha sum_l opA'(j, l) opB'(l, i) + beta C[...]     (column-major, j &lt; m, i &lt; n)
 * </pre>
 *
 * @param transa {@link #OP_N} or {@link #OP_T}, applied to {@code a} (the row-major B)
 * @param transb the same for {@code b} (the row-major A)
 * @param beta   1 to add to C, 0 to overwrite it (cuBLAS then never reads C)
 */
public record CublasGemm(int transa, int transb, int m, int n, int k, float alpha, float[] a, int lda, long strideA,
                         float[] b, int ldb, long strideB, float beta, float[] c, int ldc, long strideC, int batch) {
    /** cublasOperation_t CUBLAS_OP_N. */
    public static final int OP_N = 0;
    /** cublasOperation_t CUBLAS_OP_T. */
    public static final int OP_T = 1;

    public static CublasGemm of(GemmShape g) {
        if (g.bOff() != 0 || g.biasOff() != 0 || g.cOff() != 0) {
            throw new IllegalArgumentException(g.kernel() + ": cuBLAS tasks take whole arrays, not slices of shared ones");
        }
        return new CublasGemm(g.transB() ? OP_T : OP_N, g.transA() ? OP_T : OP_N, g.n(), g.m(), g.k(), 1f,
                g.b(), g.ldb(), g.bZ(), g.a(), g.lda(), g.aZ(), g.accumulate() ? 1f : 0f, g.c(), g.ldc(), g.cZ(), g.z());
    }

    public boolean batched() {
        return batch > 1;
    }

    /** cuBLAS's function: {@code cublasSgemm} or {@code cublasSgemmStridedBatched}. */
    public String function() {
        return batched() ? "cublasSgemmStridedBatched" : "cublasSgemm";
    }

    /** The call's parameters in the order of TornadoVM's cuBLAS provider for {@link #function()}. */
    public Object[] parameters() {
        if (batched()) {
            return new Object[] {transa, transb, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch};
        }
        return new Object[] {transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc};
    }

    /** Index of C in {@link #parameters()}: the one array written. */
    public int outputIndex() {
        return batched() ? 13 : 11;
    }
}
