package sffn.nn.layers;

import java.util.ArrayList;
import java.util.List;
import sffn.kernels.Tensor;
import sffn.kernels.plan.KernelCall.LayerNormBackward;
import sffn.kernels.plan.KernelCall.LayerNormForward;
import sffn.kernels.plan.KernelCall.RmsNormBackward;
import sffn.kernels.plan.KernelCall.RmsNormForward;
import sffn.kernels.plan.Plan;
import sffn.nn.Buffers;
import sffn.nn.Parameter;
import sffn.nn.config.Norm;

/** LayerNorm (weight and bias) or RMSNorm (weight only) over the hidden dimension. */
public final class NormLayer {
    private final String prefix;
    private final Norm kind;
    private final int dim;
    private final Parameter weight;
    private final Parameter bias;

    public NormLayer(String prefix, Norm kind, int dim) {
        this.prefix = prefix;
        this.kind = kind;
        this.dim = dim;
        this.weight = new Parameter(prefix + ".weight", false, dim);
        this.bias = kind == Norm.LAYERNORM ? new Parameter(prefix + ".bias", false, dim) : null;
        weight.value.fill(1f);
    }

    public List<Parameter> parameters() {
        List<Parameter> ps = new ArrayList<>();
        ps.add(weight);
        if (bias != null) ps.add(bias);
        return ps;
    }

    /** {@code out = norm(x)}; saves the row statistics under this layer's prefix. */
    public void forward(Plan plan, Buffers buffers, Tensor x, Tensor out, int rows) {
        Tensor rstd = buffers.get(prefix + ".rstd", rows);
        if (kind == Norm.LAYERNORM) {
            Tensor mean = buffers.get(prefix + ".mean", rows);
            plan.add(new LayerNormForward(x, weight.value, bias.value, out, mean, rstd, rows, dim));
        } else {
            plan.add(new RmsNormForward(x, weight.value, out, rstd, rows, dim));
        }
    }

    /** Parameter gradients accumulate; {@code dx} is overwritten or added to. */
    public void backward(Plan plan, Buffers buffers, Tensor x, Tensor dout, Tensor dx, int rows, boolean accumulateDx) {
        Tensor rstd = buffers.get(prefix + ".rstd", rows);
        if (kind == Norm.LAYERNORM) {
            Tensor mean = buffers.get(prefix + ".mean", rows);
            plan.add(new LayerNormBackward(dout, x, weight.value, mean, rstd, dx, weight.grad(), bias.grad(),
                    rows, dim, accumulateDx));
        } else {
            plan.add(new RmsNormBackward(dout, x, weight.value, rstd, dx, weight.grad(), rows, dim, accumulateDx));
        }
    }
}
