package sffn.nn.layers;

import java.util.ArrayList;
import java.util.List;
import sffn.kernels.Tensor;
import sffn.kernels.backend.CpuBackend;
import sffn.kernels.plan.KernelCall.BiasAdd;
import sffn.kernels.plan.KernelCall.BiasBackward;
import sffn.kernels.plan.KernelCall.BlendBackward;
import sffn.kernels.plan.KernelCall.BlendForward;
import sffn.kernels.plan.KernelCall.Copy;
import sffn.kernels.plan.KernelCall.MatmulBackwardInput;
import sffn.kernels.plan.KernelCall.MatmulBackwardWeight;
import sffn.kernels.plan.KernelCall.MatmulForward;
import sffn.kernels.plan.KernelCall.WhenGuided;
import sffn.kernels.plan.Plan;
import sffn.nn.Buffers;
import sffn.nn.Parameter;

/**
 * A linear of the model: a {@link Linear} structure, an optional bias, and, while self-guided
 * training runs, a dense guide {@code W} [out, in] blended in:
 * {@code y = a W x + (1 - a) U(V x) + b}. The guide weight {@code a} and this layer's guide
 * switch live in the step scalars, so one plan serves every step of the guided phase.
 */
public final class LinearLayer {
    private final String prefix;
    private final Linear structure;
    private final Parameter bias;
    private Parameter guide;
    private int switchSlot = -1;

    public LinearLayer(String prefix, Linear structure, boolean bias) {
        this.prefix = prefix;
        this.structure = structure;
        this.bias = bias ? new Parameter(prefix + ".bias", false, structure.out()) : null;
    }

    public String prefix() {
        return prefix;
    }

    public Linear structure() {
        return structure;
    }

    public boolean structured() {
        return !(structure instanceof DenseLinear);
    }

    public Parameter bias() {
        return bias;
    }

    public Parameter guide() {
        return guide;
    }

    public int switchSlot() {
        return switchSlot;
    }

    /** Adds a dense guide initialised to the structure's merged matrix; switch in scalars[slot]. */
    public void addGuide(int slot) {
        guide = new Parameter(prefix + ".guide", true, structure.out(), structure.in());
        System.arraycopy(mergedWeight(), 0, guide.value.data, 0, guide.size());
        switchSlot = slot;
    }

    /** Drops the guide and its gradient and optimizer state. */
    public void dropGuide() {
        guide = null;
        switchSlot = -1;
    }

    /** Restores a guide slot without initialising it (its values come from a checkpoint). */
    public void attachGuide(int slot) {
        guide = new Parameter(prefix + ".guide", true, structure.out(), structure.in());
        switchSlot = slot;
    }

    /** Weights in checkpoint order: the structure's, the guide, the bias. */
    public List<Parameter> parameters() {
        List<Parameter> ps = new ArrayList<>(structure.parameters());
        if (guide != null) ps.add(guide);
        if (bias != null) ps.add(bias);
        return ps;
    }

    public void forward(Plan plan, Buffers buffers, Tensor scalars, Tensor x, Tensor y, int rows) {
        structure.forward(plan, buffers, x, y, rows);
        if (guide != null) {
            Tensor yg = buffers.get("guide.y", rows, structure.out());
            plan.add(new WhenGuided(scalars, switchSlot,
                    new MatmulForward(x, guide.value, null, yg, rows, structure.out(), structure.in(), false)));
            plan.add(new BlendForward(yg, y, scalars, switchSlot, rows * structure.out()));
        }
        if (bias != null) plan.add(new BiasAdd(y, bias.value, rows, structure.out()));
    }

    /** Parameter gradients accumulate; {@code dx} (may be null) is overwritten or added to. */
    public void backward(Plan plan, Buffers buffers, Tensor scalars, Tensor x, Tensor dy, Tensor dx, int rows,
                         boolean accumulateDx) {
        int out = structure.out();
        int in = structure.in();
        if (bias != null) plan.add(new BiasBackward(dy, bias.grad(), rows, out, true));
        if (guide == null) {
            structure.backward(plan, buffers, x, dy, dx, rows, accumulateDx);
            return;
        }
        // dy may be the residual stream's gradient, which must stay intact: blend a copy.
        Tensor dys = buffers.get("guide.dys", rows, out);
        Tensor dyg = buffers.get("guide.dyg", rows, out);
        plan.add(new Copy(dy, dys, rows * out));
        plan.add(new BlendBackward(dys, dyg, scalars, switchSlot, rows * out));
        structure.backward(plan, buffers, x, dys, dx, rows, accumulateDx);
        plan.add(new WhenGuided(scalars, switchSlot, new MatmulBackwardWeight(dyg, x, guide.grad(), rows, out, in, true)));
        if (dx != null) {
            plan.add(new WhenGuided(scalars, switchSlot, new MatmulBackwardInput(dyg, guide.value, dx, rows, out, in, true)));
        }
    }

    /**
     * The structure folded into one dense [out, in] matrix (bias and guide excluded), computed by
     * running the structure's own forward on the identity: row j of the result of
     * {@code x = I} is {@code W e_j}, i.e. column j of W.
     */
    public float[] mergedWeight() {
        int in = structure.in();
        int out = structure.out();
        Buffers b = new Buffers();
        Tensor eye = new Tensor("eye", in, in);
        for (int i = 0; i < in; i++) eye.data[i * in + i] = 1f;
        Tensor cols = new Tensor("merged.t", in, out);
        Plan plan = new Plan("merge " + prefix);
        structure.forward(plan, b, eye, cols, in);
        try (CpuBackend cpu = new CpuBackend()) {
            cpu.run(plan);
        }
        float[] w = new float[out * in];
        for (int j = 0; j < in; j++) {
            for (int o = 0; o < out; o++) w[o * in + j] = cols.data[j * out + o];
        }
        return w;
    }
}
