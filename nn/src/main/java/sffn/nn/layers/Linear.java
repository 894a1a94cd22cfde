package sffn.nn.layers;

import java.util.List;
import sffn.kernels.Tensor;
import sffn.kernels.plan.Plan;
import sffn.nn.Buffers;
import sffn.nn.Parameter;

/**
 * A bias-free linear map {@code y = W x} from {@code in} to {@code out} features, dense or
 * structured. Rows of x and y are tokens: x [rows, in], y [rows, out]. Forward and backward add
 * kernel calls to a plan; activations a layer saves for backward are taken from the buffers
 * under the layer's own prefix, scratch under shared names.
 */
public interface Linear {

    int in();

    int out();

    /** The layer's weight tensors, in checkpoint order. */
    List<Parameter> parameters();

    /** Adds {@code y = W x} (y overwritten). */
    void forward(Plan plan, Buffers buffers, Tensor x, Tensor y, int rows);

    /**
     * Adds the backward of {@link #forward}: parameter gradients accumulate;
     * {@code dx} is overwritten, or added to when {@code accumulateDx}.
     */
    void backward(Plan plan, Buffers buffers, Tensor x, Tensor dy, Tensor dx, int rows, boolean accumulateDx);

    /** Initialises the weights from the run seed. */
    void init(long seed, double std);

    /** Multiply-adds per token of the forward, i.e. the number of weight elements. */
    default long macsPerToken() {
        long n = 0;
        for (Parameter p : parameters()) n += p.size();
        return n;
    }
}
