package sffn.nn;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import sffn.kernels.IntTensor;
import sffn.kernels.Tensor;

/**
 * The activation and scratch tensors of one step shape, allocated once when plans are built and
 * found again by name. A name asked for twice with the same shape is the same tensor: layers
 * share scratch space by asking for the same name, and keep saved activations apart by putting
 * their own prefix in the name.
 */
public final class Buffers {
    private final Map<String, Tensor> floats = new LinkedHashMap<>();
    private final Map<String, IntTensor> ints = new LinkedHashMap<>();

    public Tensor get(String name, int... shape) {
        String key = name + Arrays.toString(shape);
        return floats.computeIfAbsent(key, k -> new Tensor(name, shape));
    }

    public IntTensor ints(String name, int... shape) {
        String key = name + Arrays.toString(shape);
        return ints.computeIfAbsent(key, k -> new IntTensor(name, shape));
    }

    /** Bytes held, for reporting memory use. */
    public long bytes() {
        long n = 0;
        for (Tensor t : floats.values()) n += 4L * t.size();
        for (IntTensor t : ints.values()) n += 4L * t.size();
        return n;
    }

    public void clear() {
        floats.clear();
        ints.clear();
    }
}
