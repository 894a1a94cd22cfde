package sffn.nn.layers;

import java.util.List;
import sffn.kernels.Tensor;
import sffn.kernels.plan.KernelCall.BlockDiagBackwardInput;
import sffn.kernels.plan.KernelCall.BlockDiagBackwardWeight;
import sffn.kernels.plan.KernelCall.BlockDiagForward;
import sffn.kernels.plan.KernelCall.MatmulBackwardInput;
import sffn.kernels.plan.KernelCall.MatmulBackwardWeight;
import sffn.kernels.plan.KernelCall.MatmulForward;
import sffn.kernels.plan.Plan;
import sffn.nn.Buffers;
import sffn.nn.Init;
import sffn.nn.Parameter;
import sffn.nn.config.PostInit;

/**
 * BlockDense: {@code W x ~ U (blockdiag(V) x)} with {@code blkdiag} [nb, r/nb, in/nb] and
 * {@code lr = U} [out, r]. Saves {@code h = blockdiag(V) x} [rows, r] for backward.
 */
public final class BlockDenseLinear implements Linear {
    private final String prefix;
    private final int in;
    private final int out;
    private final int rank;
    private final int nb;
    private final PostInit postInit;
    private final Parameter blkdiag;
    private final Parameter lr;

    public BlockDenseLinear(String prefix, int in, int out, int rank, int nblocks, PostInit postInit) {
        this.prefix = prefix;
        this.in = in;
        this.out = out;
        this.rank = rank;
        this.nb = nblocks;
        this.postInit = postInit;
        this.blkdiag = new Parameter(prefix + ".blkdiag", true, nblocks, rank / nblocks, in / nblocks);
        this.lr = new Parameter(prefix + ".lr", true, out, rank);
    }

    @Override
    public int in() {
        return in;
    }

    @Override
    public int out() {
        return out;
    }

    @Override
    public List<Parameter> parameters() {
        return List.of(blkdiag, lr);
    }

    @Override
    public void forward(Plan plan, Buffers buffers, Tensor x, Tensor y, int rows) {
        Tensor h = buffers.get(prefix + ".h", rows, rank);
        plan.add(new BlockDiagForward(x, blkdiag.value, h, rows, nb, rank / nb, in / nb, false));
        plan.add(new MatmulForward(h, lr.value, null, y, rows, out, rank, false));
    }

    @Override
    public void backward(Plan plan, Buffers buffers, Tensor x, Tensor dy, Tensor dx, int rows, boolean accumulateDx) {
        Tensor h = buffers.get(prefix + ".h", rows, rank);
        Tensor dh = buffers.get("blockdense.dh", rows, rank);
        plan.add(new MatmulBackwardWeight(dy, h, lr.grad(), rows, out, rank, true));
        plan.add(new MatmulBackwardInput(dy, lr.value, dh, rows, out, rank, false));
        plan.add(new BlockDiagBackwardWeight(dh, x, blkdiag.grad(), rows, nb, rank / nb, in / nb, true));
        if (dx != null) {
            plan.add(new BlockDiagBackwardInput(dh, blkdiag.value, dx, rows, nb, rank / nb, in / nb, accumulateDx));
        }
    }

    @Override
    public void init(long seed, double std) {
        int q = rank / nb;
        int p = in / nb;
        switch (postInit) {
            case ORTHO, SVD -> {
                for (int b = 0; b < nb; b++) {
                    Init.orthogonal(blkdiag.value.data, b * q * p, q, p, std, Init.rng(seed, blkdiag.name + "." + b));
                }
                Init.orthogonal(lr.value.data, 0, out, rank, std, Init.rng(seed, lr.name));
            }
            case NONE -> {
                Init.normal(blkdiag.value.data, std, Init.rng(seed, blkdiag.name));
                Init.normal(lr.value.data, std, Init.rng(seed, lr.name));
            }
        }
    }
}
