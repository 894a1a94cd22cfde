package sffn.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * Row operations of a softmax and its backward, vectorised with {@link Vec#exp} and lane sums in
 * a fixed order, so they give the same bits whatever the JIT tier (see {@link Vec}). The lanes
 * are summed through memory, in lane order: a helper taking the vector itself (such as
 * {@code Vec.sumLanes}) boxes it whenever the JIT declines to inline the call, which costs more
 * than the row.
 */
public final class SoftmaxRows {
    private static final VectorSpecies<Float> S = Vec.S;
    private static final int L = Vec.L;

    private SoftmaxRows() {
    }

    /**
     * {@code x[i] = e^(x[i]*scale - shift)} for i in [off, off+n); returns the sum of the new
     * values in a fixed order (per lane in index order, then over the lanes in order).
     */
    public static float expScaledShifted(float[] x, int off, int n, float scale, float shift) {
        FloatVector vs = FloatVector.broadcast(S, scale);
        FloatVector vm = FloatVector.broadcast(S, shift);
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector e = Vec.exp(FloatVector.fromArray(S, x, off + i).mul(vs).sub(vm));
            e.intoArray(x, off + i);
            acc = acc.add(e);
        }
        if (i < n) {
            VectorMask<Float> m = S.indexInRange(i, n);
            FloatVector e = Vec.exp(FloatVector.fromArray(S, x, off + i, m).mul(vs).sub(vm));
            e.intoArray(x, off + i, m);
            acc = acc.add(e, m);
        }
        float[] lanes = new float[L];
        acc.intoArray(lanes, 0);
        return sumInOrder(lanes);
    }

    /** {@code sum_i a[ao+i] * b[bo+i]}: per lane in index order, then over the lanes in order. */
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

    private static float sumInOrder(float[] lanes) {
        float s = 0f;
        for (float x : lanes) s += x;
        return s;
    }

    /** {@code x[xo+i] = p[po+i] * (x[xo+i] - c)}: the softmax backward dS = P (dP - rowsum(P dP)). */
    public static void mulShifted(float[] p, int po, float[] x, int xo, int n, float c) {
        FloatVector vc = FloatVector.broadcast(S, c);
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector.fromArray(S, p, po + i).mul(FloatVector.fromArray(S, x, xo + i).sub(vc)).intoArray(x, xo + i);
        }
        for (; i < n; i++) x[xo + i] = p[po + i] * (x[xo + i] - c);
    }

    /** {@code x[off+i] *= s}. */
    public static void scale(float[] x, int off, int n, float s) {
        FloatVector vs = FloatVector.broadcast(S, s);
        int i = 0;
        for (; i <= n - L; i += L) FloatVector.fromArray(S, x, off + i).mul(vs).intoArray(x, off + i);
        for (; i < n; i++) x[off + i] *= s;
    }
}
