package sffn.kernels;

import java.util.Arrays;

/** A named short buffer with a shape: bfloat16 weights, as their bit patterns. */
public final class ShortTensor {
    public final String name;
    private final int[] shape;
    public final short[] data;

    public ShortTensor(String name, int... shape) {
        this.name = name;
        this.shape = shape.clone();
        this.data = new short[(int) Tensor.numel(shape)];
    }

    public int size() {
        return data.length;
    }

    public int[] shape() {
        return shape.clone();
    }

    @Override
    public String toString() {
        return name + Arrays.toString(shape);
    }
}
