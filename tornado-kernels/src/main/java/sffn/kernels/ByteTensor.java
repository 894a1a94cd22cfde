package sffn.kernels;

import java.util.Arrays;

/** A named byte buffer with a shape: int8 weights. */
public final class ByteTensor {
    public final String name;
    private final int[] shape;
    public final byte[] data;

    public ByteTensor(String name, int... shape) {
        this.name = name;
        this.shape = shape.clone();
        this.data = new byte[(int) Tensor.numel(shape)];
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
