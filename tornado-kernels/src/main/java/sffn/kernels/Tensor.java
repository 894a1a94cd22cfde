package sffn.kernels;

import java.util.Arrays;

/**
 * A named float buffer with a shape: parameters, gradients, optimizer state and activations are
 * all tensors. Kernels take {@link #data} directly; the name and shape are for plans, checkpoints
 * and error messages. Row-major; the last dimension is contiguous.
 */
public final class Tensor {
    public final String name;
    private final int[] shape;
    public final float[] data;

    public Tensor(String name, int... shape) {
        this.name = name;
        this.shape = shape.clone();
        long n = numel(shape);
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("tensor " + name + " of shape " + Arrays.toString(shape)
                    + " has " + n + " elements, more than one Java array can hold");
        }
        this.data = new float[(int) n];
    }

    public static long numel(int... shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            n *= d;
        }
        return n;
    }

    public int size() {
        return data.length;
    }

    public int[] shape() {
        return shape.clone();
    }

    public int dim(int i) {
        return shape[i];
    }

    public int rank() {
        return shape.length;
    }

    public void fill(float v) {
        Arrays.fill(data, v);
    }

    @Override
    public String toString() {
        return name + Arrays.toString(shape);
    }
}
