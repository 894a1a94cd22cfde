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

    /**
     * {@link #fromFloat} for the portable bodies, without a bit reinterpretation (see
     * {@link #decode}): the same bits for every float but NaN (any NaN gives the quiet NaN
     * 0x7fc0) and minus zero (plus zero). The exponent comes from a logarithm, corrected by
     * comparing with exact powers of two (a device's logarithm may be off in the last place); the
     * significand scaled to 8 bits (exact: a product with a power of two) is rounded to nearest,
     * ties to even, by hand. Subnormal results share the smallest normal exponent's step; a carry
     * out of the significand moves into the exponent field (and past the largest bfloat16, to
     * infinity) as it does for the bits. Floors are taken by casts: TornadoVM maps only
     * TornadoMath's floor to the device's, and the JDK's {@code Math.floor} falls back to bit
     * manipulation through a reinterpretation.
     */
    public static short encode(float x) {
        if (x != x) {
            return (short) 0x7fc0;
        }
        int sign = x < 0f ? 0x8000 : 0;
        float a = x < 0f ? -x : x;
        if (a == 0f) {
            return 0;
        }
        if (a > Float.MAX_VALUE) {
            return (short) (sign | 0x7f80);
        }
        double lg = Math.log(a) * 1.4426950408889634;
        int e = (int) lg;
        if (e > lg) {
            e = e - 1;
        }
        e = Math.max(-126, Math.min(127, e));
        float p = pow2(e);
        if (a < p && e > -126) {
            e = e - 1;
        } else if (e < 127 && a >= 2f * p) {
            e = e + 1;
        }
        float m = a * pow2(-e) * 128f;
        int r = (int) m;
        float diff = m - r;
        if (diff > 0.5f || (diff == 0.5f && (r & 1) == 1)) {
            r = r + 1;
        }
        return (short) (sign | ((e + 126) * 128 + r));
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
