package sffn.kernels;

import java.util.Arrays;

/** A named int buffer with a shape: token ids and targets. */
public final class IntTensor {
    public final String name;
    private final int[] shape;
    public final int[] data;

    public IntTensor(String name, int... shape) {
        this.name = name;
        this.shape = shape.clone();
        this.data = new int[(int) Tensor.numel(shape)];
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
