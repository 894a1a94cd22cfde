package sffn.nn.layers;

import java.util.List;
import sffn.kernels.Tensor;
import sffn.kernels.plan.KernelCall.BlockDiagBackwardInput;
import sffn.kernels.plan.KernelCall.BlockDiagBackwardWeight;
import sffn.kernels.plan.KernelCall.BlockDiagForward;
import sffn.kernels.plan.KernelCall.ShuffleRows;
import sffn.kernels.plan.Plan;
import sffn.nn.Buffers;
import sffn.nn.Init;
import sffn.nn.Parameter;
import sffn.nn.config.PostInit;

/**
 * BlockShuffle (Monarch), as in the paper's code: {@code blkdiag1} (k, q, p) and
 * {@code blkdiag2} (l, s, r), with k = l = nblocks. The first block-diagonal product's output,
 * per token flattened as (k, q), is read as (r, l) and transposed to (l, r) for the second; the
 * second's output (l, s) is written transposed, as (s, l). If in &lt; out:
 * blkdiag1 [nb, in/nb, in/nb], blkdiag2 [nb, out/nb, in/nb]; else blkdiag1 [nb, out/nb, in/nb],
 * blkdiag2 [nb, out/nb, out/nb]. Saves the shuffled middle {@code z} [rows, l*r] for backward.
 */
public final class BlockShuffleLinear implements Linear {
    private final String prefix;
    private final int in;
    private final int out;
    private final int nb;
    private final int q;
    private final int p;
    private final int s;
    private final int r;
    private final PostInit postInit;
    private final Parameter blkdiag1;
    private final Parameter blkdiag2;

    public BlockShuffleLinear(String prefix, int in, int out, int nblocks, PostInit postInit) {
        this.prefix = prefix;
        this.in = in;
        this.out = out;
        this.nb = nblocks;
        this.postInit = postInit;
        this.p = in / nblocks;
        this.s = out / nblocks;
        this.q = in < out ? in / nblocks : out / nblocks;
        this.r = q;
        this.blkdiag1 = new Parameter(prefix + ".blkdiag1", true, nb, q, p);
        this.blkdiag2 = new Parameter(prefix + ".blkdiag2", true, nb, s, r);
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
        return List.of(blkdiag1, blkdiag2);
    }

    @Override
    public void forward(Plan plan, Buffers buffers, Tensor x, Tensor y, int rows) {
        Tensor y1 = buffers.get("blockshuffle.y1", rows, nb * q);
        Tensor z = buffers.get(prefix + ".z", rows, nb * r);
        Tensor y2 = buffers.get("blockshuffle.y2", rows, nb * s);
        plan.add(new BlockDiagForward(x, blkdiag1.value, y1, rows, nb, q, p, false));
        plan.add(new ShuffleRows(y1, z, rows, r, nb));
        plan.add(new BlockDiagForward(z, blkdiag2.value, y2, rows, nb, s, r, false));
        plan.add(new ShuffleRows(y2, y, rows, nb, s));
    }

    @Override
    public void backward(Plan plan, Buffers buffers, Tensor x, Tensor dy, Tensor dx, int rows, boolean accumulateDx) {
        Tensor z = buffers.get(prefix + ".z", rows, nb * r);
        Tensor dy2 = buffers.get("blockshuffle.y2", rows, nb * s);
        Tensor dz = buffers.get("blockshuffle.dz", rows, nb * r);
        Tensor dy1 = buffers.get("blockshuffle.y1", rows, nb * q);
        plan.add(new ShuffleRows(dy, dy2, rows, s, nb));
        plan.add(new BlockDiagBackwardWeight(dy2, z, blkdiag2.grad(), rows, nb, s, r, true));
        plan.add(new BlockDiagBackwardInput(dy2, blkdiag2.value, dz, rows, nb, s, r, false));
        plan.add(new ShuffleRows(dz, dy1, rows, nb, r));
        plan.add(new BlockDiagBackwardWeight(dy1, x, blkdiag1.grad(), rows, nb, q, p, true));
        if (dx != null) plan.add(new BlockDiagBackwardInput(dy1, blkdiag1.value, dx, rows, nb, q, p, accumulateDx));
    }

    @Override
    public void init(long seed, double std) {
        for (int b = 0; b < nb; b++) {
            if (postInit == PostInit.NONE) {
                fillNormal(blkdiag1, b * q * p, q * p, seed, std);
                fillNormal(blkdiag2, b * s * r, s * r, seed, std);
            } else {
                Init.orthogonal(blkdiag1.value.data, b * q * p, q, p, std, Init.rng(seed, blkdiag1.name + "." + b));
                Init.orthogonal(blkdiag2.value.data, b * s * r, s, r, std, Init.rng(seed, blkdiag2.name + "." + b));
            }
        }
    }

    private static void fillNormal(Parameter w, int off, int n, long seed, double std) {
        java.util.Random rng = Init.rng(seed, w.name + "." + off);
        for (int i = 0; i < n; i++) w.value.data[off + i] = (float) (rng.nextGaussian() * std);
    }
}
