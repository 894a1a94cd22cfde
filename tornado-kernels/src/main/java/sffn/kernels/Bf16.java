package sffn.kernels;

/**
 * bfloat16: the top 16 bits of a float32 (sign, 8 exponent bits, 7 mantissa bits). Widening is
 * exact ({@code bits << 16}); narrowing rounds to nearest, ties to even, as PyTorch and the
 * hardware conversions do. A NaN stays a NaN (quiet, with its sign); values beyond the largest
 * bfloat16 round to infinity, as the rounding rule says.
 */
public final class Bf16 {
    private Bf16() {
    }

    public static short fromFloat(float x) {
        int bits = Float.floatToRawIntBits(x);
        if ((bits & 0x7fffffff) > 0x7f800000) {
            // Truncating could clear every mantissa bit and turn the NaN into an infinity.
            return (short) ((bits >>> 16) | 0x0040);
        }
        int roundingBias = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }

    public static float toFloat(short b) {
        return Float.intBitsToFloat((b & 0xffff) << 16);
    }

    /** Every element of {@code w} rounded to bfloat16. */
    public static void compress(float[] w, short[] out) {
        if (out.length != w.length) throw new IllegalArgumentException("bf16: " + w.length + " floats into " + out.length + " shorts");
        for (int i = 0; i < w.length; i++) out[i] = fromFloat(w[i]);
    }

    public static void widen(short[] b, float[] out) {
        if (out.length != b.length) throw new IllegalArgumentException("bf16: " + b.length + " shorts into " + out.length + " floats");
        for (int i = 0; i < b.length; i++) out[i] = toFloat(b[i]);
    }
}
