package sffn.nn;

import sffn.kernels.Tensor;

/**
 * A trainable tensor with its gradient and AdamW moments, allocated on first use (decoding never
 * allocates them). {@code decay} says whether weight decay applies: matrices and embeddings yes,
 * norm gains and biases no.
 */
public final class Parameter {
    public final String name;
    public final Tensor value;
    public final boolean decay;
    private Tensor grad;
    private Tensor m;
    private Tensor v;

    public Parameter(String name, boolean decay, int... shape) {
        this.name = name;
        this.value = new Tensor(name, shape);
        this.decay = decay;
    }

    public Tensor grad() {
        if (grad == null) grad = new Tensor(name + ".grad", value.shape());
        return grad;
    }

    public Tensor adamM() {
        if (m == null) m = new Tensor(name + ".adam_m", value.shape());
        return m;
    }

    public Tensor adamV() {
        if (v == null) v = new Tensor(name + ".adam_v", value.shape());
        return v;
    }

    public boolean hasGrad() {
        return grad != null;
    }

    public int size() {
        return value.size();
    }

    public int[] shape() {
        return value.shape();
    }

    @Override
    public String toString() {
        return value.toString();
    }
}
