package sffn.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Row operations whose results are the same bits in interpreted and compiled code, built only
 * from lane-wise IEEE operations (add, multiply, fused multiply-add, min/max, bit moves).
 *
 * <p>Two Vector API operations are avoided on purpose: {@code reduceLanes(ADD)} sums in a
 * different order once C2 compiles it than in the interpreter, and {@code lanewise(EXP)} calls
 * SVML when compiled but {@code Math.exp} otherwise; both change low bits over a run as the JIT
 * warms up, which breaks bit-for-bit reproducibility. Sums here go lane-wise, then over the lanes
 * in order; exp is a polynomial.
 */
public final class VecMath {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final VectorSpecies<Integer> SI = S.withLanes(int.class);

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    /** exp(-104) is below half the smallest float subnormal; exp(88.72) is near the largest float. */
    private static final float EXP_LO = -104f;
    private static final float EXP_HI = 88.72f;
    private static final float ROUND = 12582912f; // 1.5 * 2^23: adding it rounds to an integer

    private VecMath() {
    }

    /**
     * Sum of the lanes of v in lane order. The lanes go through memory: a helper taking the vector
     * itself would box it whenever the JIT declines to inline the call.
     */
    private static float sumInOrder(float[] lanes) {
        float s = 0f;
        for (float x : lanes) s += x;
        return s;
    }

    /**
     * e^x per lane, for x in [-104, 88.72] (clamped outside), within 2 ulp (Cephes expf:
     * x = n ln2 + r with |r| <= ln2/2, a degree-7 polynomial for e^r, then 2^n applied in two
     * halves so that results in the subnormal range stay correct).
     */
    static FloatVector exp(FloatVector x) {
        x = x.max(EXP_LO).min(EXP_HI);
        FloatVector n = x.fma(FloatVector.broadcast(S, LOG2E), FloatVector.broadcast(S, ROUND)).sub(ROUND);
        FloatVector r = n.fma(FloatVector.broadcast(S, -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(S, -LN2_LO), r);
        FloatVector z = r.mul(r);
        FloatVector p = FloatVector.broadcast(S, 1.9875691500e-4f)
                .fma(r, FloatVector.broadcast(S, 1.3981999507e-3f))
                .fma(r, FloatVector.broadcast(S, 8.3334519073e-3f))
                .fma(r, FloatVector.broadcast(S, 4.1665795894e-2f))
                .fma(r, FloatVector.broadcast(S, 1.6666665459e-1f))
                .fma(r, FloatVector.broadcast(S, 5.0000001201e-1f));
        FloatVector y = p.fma(z, r).add(1f);
        IntVector ni = (IntVector) n.convertShape(VectorOperators.F2I, SI, 0);
        IntVector n1 = ni.lanewise(VectorOperators.ASHR, 1);
        IntVector n2 = ni.sub(n1);
        FloatVector s1 = n1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector s2 = n2.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return y.mul(s1).mul(s2);
    }

    /** max of x[off .. off+n), or negative infinity for n = 0 (max is exact in any order). */
    public static float max(float[] x, int off, int n) {
        FloatVector acc = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (; i <= n - L; i += L) acc = acc.max(FloatVector.fromArray(S, x, off + i));
        float m = acc.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) m = Math.max(m, x[off + i]);
        return m;
    }

    /**
     * {@code x[i] = e^(x[i]*scale - shift)} for i in [off, off+n); returns the sum of the new
     * values in a fixed order (per lane in index order, then over the lanes).
     */
    public static float expScaledShifted(float[] x, int off, int n, float scale, float shift) {
        FloatVector vs = FloatVector.broadcast(S, scale);
        FloatVector vm = FloatVector.broadcast(S, shift);
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector e = exp(FloatVector.fromArray(S, x, off + i).mul(vs).sub(vm));
            e.intoArray(x, off + i);
            acc = acc.add(e);
        }
        if (i < n) {
            VectorMask<Float> m = S.indexInRange(i, n);
            FloatVector e = exp(FloatVector.fromArray(S, x, off + i, m).mul(vs).sub(vm));
            e.intoArray(x, off + i, m);
            acc = acc.add(e, m);
        }
        float[] lanes = new float[L];
        acc.intoArray(lanes, 0);
        return sumInOrder(lanes);
    }

    /** {@code x[i] *= s}. */
    public static void scale(float[] x, int off, int n, float s) {
        FloatVector vs = FloatVector.broadcast(S, s);
        int i = 0;
        for (; i <= n - L; i += L) FloatVector.fromArray(S, x, off + i).mul(vs).intoArray(x, off + i);
        for (; i < n; i++) x[off + i] *= s;
    }

    /** {@code sum_i a[ao+i] * b[bo+i]} in a fixed order. */
    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i <= n - L; i += L) {
            acc = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), acc);
        }
        if (i < n) {
            VectorMask<Float> m = S.indexInRange(i, n);
            acc = FloatVector.fromArray(S, a, ao + i, m).fma(FloatVector.fromArray(S, b, bo + i, m), acc);
        }
        float[] lanes = new float[L];
        acc.intoArray(lanes, 0);
        return sumInOrder(lanes);
    }

    /** {@code x[xo+i] = p[po+i] * (x[xo+i] - c)}: the softmax backward, dS = P (dP - rowsum(P dP)). */
    public static void mulShifted(float[] p, int po, float[] x, int xo, int n, float c) {
        FloatVector vc = FloatVector.broadcast(S, c);
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector.fromArray(S, p, po + i).mul(FloatVector.fromArray(S, x, xo + i).sub(vc)).intoArray(x, xo + i);
        }
        for (; i < n; i++) x[xo + i] = p[po + i] * (x[xo + i] - c);
    }
}
