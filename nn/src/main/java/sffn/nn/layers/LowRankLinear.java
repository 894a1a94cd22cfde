package sffn.nn.layers;

import java.util.List;
import sffn.kernels.Tensor;
import sffn.kernels.plan.KernelCall.MatmulBackwardInput;
import sffn.kernels.plan.KernelCall.MatmulBackwardWeight;
import sffn.kernels.plan.KernelCall.MatmulForward;
import sffn.kernels.plan.Plan;
import sffn.nn.Buffers;
import sffn.nn.Init;
import sffn.nn.Parameter;
import sffn.nn.config.PostInit;

/**
 * LowRank: {@code W x ~ U (V x)} with {@code lr1 = V} [r, in] and {@code lr2 = U} [out, r].
 * Saves {@code h = V x} [rows, r] for backward.
 */
public final class LowRankLinear implements Linear {
    private final String prefix;
    private final int in;
    private final int out;
    private final int rank;
    private final PostInit postInit;
    private final Parameter lr1;
    private final Parameter lr2;

    public LowRankLinear(String prefix, int in, int out, int rank, PostInit postInit) {
        this.prefix = prefix;
        this.in = in;
        this.out = out;
        this.rank = rank;
        this.postInit = postInit;
        this.lr1 = new Parameter(prefix + ".lr1", true, rank, in);
        this.lr2 = new Parameter(prefix + ".lr2", true, out, rank);
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
        return List.of(lr1, lr2);
    }

    @Override
    public void forward(Plan plan, Buffers buffers, Tensor x, Tensor y, int rows) {
        Tensor h = buffers.get(prefix + ".h", rows, rank);
        plan.add(new MatmulForward(x, lr1.value, null, h, rows, rank, in, false));
        plan.add(new MatmulForward(h, lr2.value, null, y, rows, out, rank, false));
    }

    @Override
    public void backward(Plan plan, Buffers buffers, Tensor x, Tensor dy, Tensor dx, int rows, boolean accumulateDx) {
        Tensor h = buffers.get(prefix + ".h", rows, rank);
        Tensor dh = buffers.get("lowrank.dh", rows, rank);
        plan.add(new MatmulBackwardWeight(dy, h, lr2.grad(), rows, out, rank, true));
        plan.add(new MatmulBackwardInput(dy, lr2.value, dh, rows, out, rank, false));
        plan.add(new MatmulBackwardWeight(dh, x, lr1.grad(), rows, rank, in, true));
        if (dx != null) plan.add(new MatmulBackwardInput(dh, lr1.value, dx, rows, rank, in, accumulateDx));
    }

    @Override
    public void init(long seed, double std) {
        switch (postInit) {
            case SVD -> Init.lowRankSvd(lr1.value.data, lr2.value.data, in, out, rank, std, Init.rng(seed, prefix + ".svd"));
            case ORTHO -> {
                Init.orthogonal(lr1.value.data, 0, rank, in, std, Init.rng(seed, lr1.name));
                Init.orthogonal(lr2.value.data, 0, out, rank, std, Init.rng(seed, lr2.name));
            }
            case NONE -> {
                Init.normal(lr1.value.data, std, Init.rng(seed, lr1.name));
                Init.normal(lr2.value.data, std, Init.rng(seed, lr2.name));
            }
        }
    }
}
