package sffn.kernels.tornado;

import java.util.IdentityHashMap;
import java.util.Map;
import sffn.kernels.Tensor;

/**
 * Where each tensor's elements live on the device: in the tensor's own array from offset 0, or
 * as a slice of a larger array that several tensors share (a task then takes the shared array
 * and the slice's offset). Kernels read and write only through {@link #array} and {@link #offset}.
 */
final class DeviceSlices {
    /** A tensor's place: {@code shared[offset .. offset + length)}. */
    record Slice(float[] shared, int offset) {
    }

    private final Map<float[], Slice> slices;

    DeviceSlices(Map<float[], Slice> slices) {
        this.slices = slices;
    }

    /** Every tensor in its own array. */
    static DeviceSlices none() {
        return new DeviceSlices(new IdentityHashMap<>());
    }

    float[] array(Tensor t) {
        Slice s = slices.get(t.data);
        return s == null ? t.data : s.shared();
    }

    int offset(Tensor t) {
        Slice s = slices.get(t.data);
        return s == null ? 0 : s.offset();
    }

    /** The device array a host array lives in: the shared one for a slice, else itself. */
    Object deviceArray(Object hostArray) {
        Slice s = of(hostArray);
        return s == null ? hostArray : s.shared();
    }

    /** A host array's place in a shared array, or null for an array that is its own. */
    Slice of(Object hostArray) {
        return hostArray instanceof float[] f ? slices.get(f) : null;
    }

    /** The host arrays that are slices of shared ones. */
    java.util.Set<float[]> members() {
        return slices.keySet();
    }
}
