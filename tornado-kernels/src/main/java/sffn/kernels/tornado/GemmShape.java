package sffn.kernels.tornado;

import sffn.kernels.TiledGemm;
import sffn.kernels.plan.KernelCall;
import sffn.kernels.plan.KernelCall.BlockDiagBackwardInput;
import sffn.kernels.plan.KernelCall.BlockDiagBackwardWeight;
import sffn.kernels.plan.KernelCall.BlockDiagForward;
import sffn.kernels.plan.KernelCall.MatmulBackwardInput;
import sffn.kernels.plan.KernelCall.MatmulBackwardWeight;
import sffn.kernels.plan.KernelCall.MatmulForward;

/**
 * A call of the matmul family as one strided, row-major GEMM over {@code z} problems, in
 * {@link TiledGemm}'s form: {@code C_z (+)= opA_z opB_z (+ bias)}, with {@code flags} of
 * {@link TiledGemm#TRANS_A}, {@link TiledGemm#TRANS_B}, {@link TiledGemm#ACCUMULATE},
 * {@link TiledGemm#BIAS}. The register-tiled kernels take it as it is; {@link CublasGemm} turns it
 * into cuBLAS's column-major arguments. Offsets into the arrays are always 0: every operand starts
 * its array, and a block's operands lie {@code aZ}, {@code bZ}, {@code cZ} floats apart.
 *
 * @param kernel the task's name, e.g. {@code matmul_fwd}
 * @param bias   the bias array, or null (then {@link TiledGemm#BIAS} is off)
 */
public record GemmShape(String kernel, float[] a, float[] b, float[] bias, float[] c, int m, int n, int k, int lda, int ldb,
                        int ldc, int flags, int aZ, int bZ, int cZ, int z) {

    public boolean transA() {
        return (flags & TiledGemm.TRANS_A) != 0;
    }

    public boolean transB() {
        return (flags & TiledGemm.TRANS_B) != 0;
    }

    public boolean accumulate() {
        return (flags & TiledGemm.ACCUMULATE) != 0;
    }

    private static int acc(boolean accumulate) {
        return accumulate ? TiledGemm.ACCUMULATE : 0;
    }

    /** The call as a GEMM, or null if it is not of the matmul family. */
    public static GemmShape of(KernelCall call) {
        return switch (call) {
            // C [M,N] = A [M,K] . B [N,K]^T (+ bias)
            case MatmulForward c -> new GemmShape("matmul_fwd", c.a().data, c.b().data, c.bias() == null ? null : c.bias().data,
                    c.c().data, c.m(), c.n(), c.k(), c.k(), c.k(), c.n(),
                    TiledGemm.TRANS_B | acc(c.accumulate()) | (c.bias() != null ? TiledGemm.BIAS : 0), 0, 0, 0, 1);
            // dA [M,K] = dC [M,N] . B [N,K]: (m, n, k) = (M, K, N)
            case MatmulBackwardInput c -> new GemmShape("matmul_bwd_in", c.dc().data, c.b().data, null, c.da().data,
                    c.m(), c.k(), c.n(), c.n(), c.k(), c.k(), acc(c.accumulate()), 0, 0, 0, 1);
            // dB [N,K] = dC [M,N]^T . A [M,K]: (m, n, k) = (N, K, M)
            case MatmulBackwardWeight c -> new GemmShape("matmul_bwd_w", c.dc().data, c.a().data, null, c.db().data,
                    c.n(), c.k(), c.m(), c.n(), c.k(), c.k(), TiledGemm.TRANS_A | acc(c.accumulate()), 0, 0, 0, 1);
            // Block z of x [R, nb p], y [R, nb q], w [nb, q, p]: y_z [R,q] = x_z [R,p] . w_z^T;
            // dx_z [R,p] = dy_z [R,q] . w_z; dw_z [q,p] = dy_z^T . x_z.
            case BlockDiagForward c -> new GemmShape("blockdiag_fwd", c.x().data, c.w().data, null, c.y().data,
                    c.rows(), c.q(), c.p(), c.nb() * c.p(), c.p(), c.nb() * c.q(), TiledGemm.TRANS_B | acc(c.accumulate()),
                    c.p(), c.q() * c.p(), c.q(), c.nb());
            case BlockDiagBackwardInput c -> new GemmShape("blockdiag_bwd_in", c.dy().data, c.w().data, null, c.dx().data,
                    c.rows(), c.p(), c.q(), c.nb() * c.q(), c.p(), c.nb() * c.p(), acc(c.accumulate()),
                    c.q(), c.q() * c.p(), c.p(), c.nb());
            case BlockDiagBackwardWeight c -> new GemmShape("blockdiag_bwd_w", c.dy().data, c.x().data, null, c.dw().data,
                    c.q(), c.p(), c.rows(), c.nb() * c.q(), c.nb() * c.p(), c.p(), TiledGemm.TRANS_A | acc(c.accumulate()),
                    c.q(), c.p(), c.q() * c.p(), c.nb());
            default -> null;
        };
    }
}
