package sffn.kernels;

import java.util.Locale;

/**
 * How decoding stores the weights of its products: float32 as trained, bfloat16 (float32 rounded
 * to nearest even, {@link Bf16}), or int8 with a float32 scale per group of
 * {@link Int8Groups#GROUP} weights along the input dimension ({@link Int8Groups}).
 */
public enum WeightFormat {
    FP32(4), BF16(2), INT8(1);

    /** Bytes per weight, scales apart. */
    public final int bytes;

    WeightFormat(int bytes) {
        this.bytes = bytes;
    }

    /** The name users type: fp32, bf16, int8. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static WeightFormat parse(String s) {
        for (WeightFormat f : values()) {
            if (f.label().equals(s.trim().toLowerCase(Locale.ROOT))) return f;
        }
        throw new IllegalArgumentException("unknown weight format '" + s + "'; use fp32, bf16 or int8");
    }
}
