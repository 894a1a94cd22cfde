package sffn.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;
import sffn.kernels.Bf16;

/**
 * Vector API helpers shared by the CPU bodies.
 *
 * <p>Reproducibility: results must not depend on whether the JIT has compiled a method yet. The
 * interpreter's fallback of {@code reduceLanes(ADD)} adds lanes in another order than the
 * compiled intrinsic, and {@code lanewise(EXP)}/{@code TANH} call different libraries in the two
 * tiers. So sums of lanes go through {@link #sumLanes} (a fixed tree of lane-wise adds) and
 * exp/tanh/sigmoid are written here with lane-wise IEEE operations only, which every tier
 * computes bit for bit alike; the scalar versions do the same operations in the same order.
 */
public final class Vec {
    public static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    public static final int L = S.length();

    /** Short lanes to match the float lanes, and int lanes of the float shape (bfloat16 widening). */
    private static final VectorSpecies<Short> H = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16));
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, S.vectorShape());

    /** Rotations by L/2, L/4, ..., 1 lanes, for the fixed reduction tree. */
    private static final VectorShuffle<Float>[] ROTATIONS = rotations();

    private static final float LOG2E = 1.44269504088896341f;
    private static final float MAGIC = 12582912f; // 1.5 * 2^23: adding it rounds to an integer
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float EXP_MIN = -87.33654f;
    private static final float EXP_MAX = 88.0f;
    private static final float P0 = 1.9875691500e-4f;
    private static final float P1 = 1.3981999507e-3f;
    private static final float P2 = 8.3334519073e-3f;
    private static final float P3 = 4.1665795894e-2f;
    private static final float P4 = 1.6666665459e-1f;
    private static final float P5 = 5.0000001201e-1f;

    private Vec() {
    }

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Float>[] rotations() {
        int steps = Integer.numberOfTrailingZeros(L);
        VectorShuffle<Float>[] r = new VectorShuffle[steps];
        for (int i = 0, k = L / 2; k >= 1; i++, k /= 2) r[i] = VectorShuffle.iota(S, k, 1, true);
        return r;
    }

    /**
     * L bfloat16 values from {@code w[off ..]} as floats, exactly: short lanes sign-extended to
     * int, shifted left by 16, reinterpreted as float (the low bits shifted out are the sign
     * extension's).
     */
    public static FloatVector bf16(short[] w, int off) {
        return ((IntVector) ShortVector.fromArray(H, w, off).convertShape(VectorOperators.S2I, I, 0))
                .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /** Sum of the lanes in a fixed pairwise order. */
    public static float sumLanes(FloatVector v) {
        for (VectorShuffle<Float> rot : ROTATIONS) v = v.add(v.rearrange(rot));
        return v.lane(0);
    }

    /** {@link #dot} with {@code b} in bfloat16 (widened exactly): the same operations in the same order. */
    public static float dot(float[] a, int ao, short[] b, int bo, int n) {
        FloatVector acc0 = FloatVector.zero(S);
        FloatVector acc1 = FloatVector.zero(S);
        int i = 0;
        for (; i <= n - 2 * L; i += 2 * L) {
            acc0 = FloatVector.fromArray(S, a, ao + i).fma(bf16(b, bo + i), acc0);
            acc1 = FloatVector.fromArray(S, a, ao + i + L).fma(bf16(b, bo + i + L), acc1);
        }
        for (; i <= n - L; i += L) {
            acc0 = FloatVector.fromArray(S, a, ao + i).fma(bf16(b, bo + i), acc0);
        }
        float s = sumLanes(acc0.add(acc1));
        for (; i < n; i++) s += a[ao + i] * Bf16.toFloat(b[bo + i]);
        return s;
    }

    /** {@code sum_i a[ao+i] * b[bo+i]} for {@code i < n}, lanes first then a scalar tail. */
    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        FloatVector acc0 = FloatVector.zero(S);
        FloatVector acc1 = FloatVector.zero(S);
        int i = 0;
        for (; i <= n - 2 * L; i += 2 * L) {
            acc0 = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), acc0);
            acc1 = FloatVector.fromArray(S, a, ao + i + L).fma(FloatVector.fromArray(S, b, bo + i + L), acc1);
        }
        for (; i <= n - L; i += L) {
            acc0 = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), acc0);
        }
        float s = sumLanes(acc0.add(acc1));
        for (; i < n; i++) s += a[ao + i] * b[bo + i];
        return s;
    }

    /** {@code sum_i a[ao+i]}. */
    public static float sum(float[] a, int ao, int n) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i <= n - L; i += L) acc = acc.add(FloatVector.fromArray(S, a, ao + i));
        float s = sumLanes(acc);
        for (; i < n; i++) s += a[ao + i];
        return s;
    }

    /** {@code y[yo+i] += alpha * x[xo+i]}. */
    public static void axpy(float alpha, float[] x, int xo, float[] y, int yo, int n) {
        FloatVector va = FloatVector.broadcast(S, alpha);
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector.fromArray(S, x, xo + i).fma(va, FloatVector.fromArray(S, y, yo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) y[yo + i] = Math.fma(alpha, x[xo + i], y[yo + i]);
    }

    /** {@code max_i a[ao+i]}, or negative infinity when {@code n == 0}. Max is order-free. */
    public static float max(float[] a, int ao, int n) {
        FloatVector acc = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (; i <= n - L; i += L) acc = acc.max(FloatVector.fromArray(S, a, ao + i));
        float m = acc.reduceLanes(jdk.incubator.vector.VectorOperators.MAX);
        for (; i < n; i++) m = Math.max(m, a[ao + i]);
        return m;
    }

    /**
     * e^x within 2 ulp (Cephes' expf: x = n ln2 + r, a degree-6 polynomial in r, times 2^n);
     * arguments are clamped to [-87.3, 88], so very negative ones give ~1e-38 instead of 0.
     */
    public static FloatVector exp(FloatVector x) {
        // Compare and blend, not min: Java's min keeps -0 < +0 apart, which costs several
        // instructions per call on x86. A NaN fails the compare and stays NaN.
        return expSoftmax(x.blend(EXP_MAX, x.compare(VectorOperators.GT, EXP_MAX)));
    }

    /**
     * {@link #exp(FloatVector)} without its upper clamp, for a softmax's arguments (a score less
     * its row's max, at most a rounding error above 0): the same bits wherever x <= 88, garbage
     * above, which the caller must mask (a causal mask's lanes). Two instructions fewer per call.
     */
    public static FloatVector expSoftmax(FloatVector x) {
        x = x.blend(EXP_MIN, x.lt(EXP_MIN));  // NaN stays NaN
        FloatVector t = x.fma(LOG2E, MAGIC);
        FloatVector n = t.sub(MAGIC);
        FloatVector r = n.fma(FloatVector.broadcast(S, -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(S, -LN2_LO), r);
        FloatVector p = r.fma(FloatVector.broadcast(S, P0), FloatVector.broadcast(S, P1));
        p = p.fma(r, FloatVector.broadcast(S, P2));
        p = p.fma(r, FloatVector.broadcast(S, P3));
        p = p.fma(r, FloatVector.broadcast(S, P4));
        p = p.fma(r, FloatVector.broadcast(S, P5));
        p = p.fma(r.mul(r), r).add(1f);
        IntVector e = t.reinterpretAsInts().sub(0x4B400000 - 127).lanewise(jdk.incubator.vector.VectorOperators.LSHL, 23);
        return p.mul(e.reinterpretAsFloats());
    }

    /** The scalar twin of {@link #exp(FloatVector)}: the same operations in the same order. */
    public static float exp(float x) {
        x = Math.min(Math.max(x, EXP_MIN), EXP_MAX);
        float t = Math.fma(x, LOG2E, MAGIC);
        float n = t - MAGIC;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(r, P0, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        p = Math.fma(p, r * r, r) + 1f;
        int e = (Float.floatToRawIntBits(t) - (0x4B400000 - 127)) << 23;
        return p * Float.intBitsToFloat(e);
    }

    /** 1 / (1 + e^{-x}). */
    public static FloatVector sigmoid(FloatVector x) {
        return FloatVector.broadcast(S, 1f).div(exp(x.neg()).add(1f));
    }

    public static float sigmoid(float x) {
        return 1f / (exp(-x) + 1f);
    }
}
