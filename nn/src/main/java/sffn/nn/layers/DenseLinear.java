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

/** {@code y = W x} with {@code weight} [out, in]. */
public final class DenseLinear implements Linear {
    private final int in;
    private final int out;
    private final Parameter weight;

    public DenseLinear(String prefix, int in, int out) {
        this.in = in;
        this.out = out;
        this.weight = new Parameter(prefix + ".weight", true, out, in);
    }

    /** A dense linear holding the given weights (e.g. a merged structured layer). */
    public DenseLinear(Parameter weight) {
        this.out = weight.value.dim(0);
        this.in = weight.value.dim(1);
        this.weight = weight;
    }

    public Parameter weight() {
        return weight;
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
        return List.of(weight);
    }

    @Override
    public void forward(Plan plan, Buffers buffers, Tensor x, Tensor y, int rows) {
        plan.add(new MatmulForward(x, weight.value, null, y, rows, out, in, false));
    }

    @Override
    public void backward(Plan plan, Buffers buffers, Tensor x, Tensor dy, Tensor dx, int rows, boolean accumulateDx) {
        plan.add(new MatmulBackwardWeight(dy, x, weight.grad(), rows, out, in, true));
        if (dx != null) plan.add(new MatmulBackwardInput(dy, weight.value, dx, rows, out, in, accumulateDx));
    }

    @Override
    public void init(long seed, double std) {
        Init.normal(weight.value.data, std, Init.rng(seed, weight.name));
    }
}
