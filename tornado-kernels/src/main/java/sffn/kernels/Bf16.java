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

    /**
     * {@link #toFloat} for the portable bodies, without a bit reinterpretation: TornadoVM's Graal
     * failed to compile {@code Float.intBitsToFloat} of a widened short ({@code GraalGraphError:
     * BufferUnderflowException} while folding the reinterpretation). The fields are taken apart
     * with integer arithmetic and the value built from exact products: the significand
     * {@code (128 + mantissa) / 128} times a power of two made by repeated squaring, every factor
     * and partial product a normal float. The same value as {@link #toFloat} for every pattern
     * (NaN payloads aside); a subnormal comes out of a final exact product, so a device that
     * flushes subnormals to zero gives 0 for it.
     */
    public static float decode(short bits) {
        int b = bits & 0xffff;
        int exp = (b >> 7) & 0xff;
        int mant = b & 0x7f;
        float mag;
        if (exp == 255) {
            // A NaN made at run time (infinity - infinity): TornadoVM's OpenCL code generator
            // writes the constant Float.NaN as an undeclared 'NaNF'.
            mag = mant == 0 ? Float.POSITIVE_INFINITY : mant * Float.POSITIVE_INFINITY - Float.POSITIVE_INFINITY;
        } else if (exp == 0) {
            mag = (mant * (1f / 128f)) * pow2(-126);
        } else {
            mag = ((128 + mant) * (1f / 128f)) * pow2(exp - 127);
        }
        return b >= 0x8000 ? -mag : mag;
    }

    /** 2^t for |t| <= 127, exactly, by squaring 2 or 1/2; one return, a fixed-count loop. */
    private static float pow2(int t) {
        int a = t < 0 ? -t : t;
        float f = t < 0 ? 0.5f : 2f;
        float p = 1f;
        for (int i = 0; i < 7; i++) {
            if (((a >> i) & 1) == 1) {
                p *= f;
            }
            f = i < 6 ? f * f : f;
        }
        return p;
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
