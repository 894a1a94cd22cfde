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
 * into cuBLAS's column-major arguments. A starts its array; B (a weight, or the activations of a
 * weight gradient), the bias and C (a weight gradient, or activations) start at {@code bOff},
 * {@code biasOff} and {@code cOff} of theirs ({@link DeviceSlices}); a block's operands lie
 * {@code aZ}, {@code bZ}, {@code cZ} floats apart, as {@link TiledGemm#aStride} and its siblings
 * derive them from the flags.
 *
 * @param kernel the task's name, e.g. {@code matmul_fwd}
 * @param bias   the bias array, or null (then {@link TiledGemm#BIAS} is off)
 */
public record GemmShape(String kernel, float[] a, float[] b, float[] bias, float[] c, int m, int n, int k, int lda, int ldb,
                        int ldc, int flags, int aZ, int bZ, int cZ, int z, int bOff, int biasOff, int cOff) {

    public GemmShape {
        if (z > 1 && (aZ != TiledGemm.aStride(flags, m, k) || bZ != TiledGemm.bStride(flags, n, k)
                || cZ != TiledGemm.cStride(flags, m, n))) {
            throw new IllegalArgumentException(kernel + ": block strides " + aZ + ", " + bZ + ", " + cZ
                    + " are not the ones the register-tiled kernel derives from its flags");
        }
    }

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

    /** The call as a GEMM with every tensor in its own array, or null if it is not of the matmul family. */
    public static GemmShape of(KernelCall call) {
        return of(call, DeviceSlices.none());
    }

    /** The call as a GEMM on the device arrays of {@code at}, or null if it is not of the matmul family. */
    static GemmShape of(KernelCall call, DeviceSlices at) {
        return switch (call) {
            // C [M,N] = A [M,K] . B [N,K]^T (+ bias)
            case MatmulForward c -> new GemmShape("matmul_fwd", c.a().data, at.array(c.b()),
                    c.bias() == null ? null : at.array(c.bias()), c.c().data, c.m(), c.n(), c.k(), c.k(), c.k(), c.n(),
                    TiledGemm.TRANS_B | acc(c.accumulate()) | (c.bias() != null ? TiledGemm.BIAS : 0), 0, 0, 0, 1,
                    at.offset(c.b()), c.bias() == null ? 0 : at.offset(c.bias()), 0);
            // dA [M,K] = dC [M,N] . B [N,K]: (m, n, k) = (M, K, N)
            case MatmulBackwardInput c -> new GemmShape("matmul_bwd_in", c.dc().data, at.array(c.b()), null, c.da().data,
                    c.m(), c.k(), c.n(), c.n(), c.k(), c.k(), acc(c.accumulate()), 0, 0, 0, 1, at.offset(c.b()), 0, 0);
            // dB [N,K] = dC [M,N]^T . A [M,K]: (m, n, k) = (N, K, M)
            case MatmulBackwardWeight c -> new GemmShape("matmul_bwd_w", c.dc().data, c.a().data, null, at.array(c.db()),
                    c.n(), c.k(), c.m(), c.n(), c.k(), c.k(), TiledGemm.TRANS_A | TiledGemm.STACKED_C | acc(c.accumulate()),
                    0, 0, 0, 1, 0, 0, at.offset(c.db()));
            // Block z of x [R, nb p], y [R, nb q], w [nb, q, p]: y_z [R,q] = x_z [R,p] . w_z^T;
            // dx_z [R,p] = dy_z [R,q] . w_z; dw_z [q,p] = dy_z^T . x_z.
            case BlockDiagForward c -> new GemmShape("blockdiag_fwd", c.x().data, at.array(c.w()), null, c.y().data,
                    c.rows(), c.q(), c.p(), c.nb() * c.p(), c.p(), c.nb() * c.q(), TiledGemm.TRANS_B | acc(c.accumulate()),
                    c.p(), c.q() * c.p(), c.q(), c.nb(), at.offset(c.w()), 0, 0);
            case BlockDiagBackwardInput c -> new GemmShape("blockdiag_bwd_in", c.dy().data, at.array(c.w()), null, c.dx().data,
                    c.rows(), c.p(), c.q(), c.nb() * c.q(), c.p(), c.nb() * c.p(), acc(c.accumulate()),
                    c.q(), c.q() * c.p(), c.p(), c.nb(), at.offset(c.w()), 0, 0);
            case BlockDiagBackwardWeight c -> new GemmShape("blockdiag_bwd_w", c.dy().data, c.x().data, null, at.array(c.dw()),
                    c.q(), c.p(), c.rows(), c.nb() * c.q(), c.nb() * c.p(), c.p(),
                    TiledGemm.TRANS_A | TiledGemm.STACKED_C | acc(c.accumulate()), c.q(), c.p(), c.q() * c.p(), c.nb(),
                    0, 0, at.offset(c.dw()));
            default -> null;
        };
    }
}
