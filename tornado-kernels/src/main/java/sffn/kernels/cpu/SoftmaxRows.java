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

    private static float sumInOrder(float[] lanes) {
        float s = 0f;
        for (float x : lanes) s += x;
        return s;
    }

    /** {@code x[off+i] *= s}. */
    public static void scale(float[] x, int off, int n, float s) {
        FloatVector vs = FloatVector.broadcast(S, s);
        int i = 0;
        for (; i <= n - L; i += L) FloatVector.fromArray(S, x, off + i).mul(vs).intoArray(x, off + i);
        for (; i < n; i++) x[off + i] *= s;
    }

    /**
     * Causal softmax of a block of score rows in place: row r (at {@code p[off + r*ld]}) holds
     * raw scores for keys [0, n0 + r + 1); they become {@code softmax(scale * s)} there and zero
     * for keys up to {@code width}. One call per block keeps the per-row cost down.
     */
    public static void causalForward(float[] p, int off, int ld, int rows, int n0, int width, float scale) {
        float[] lanes = new float[L];
        FloatVector vs = FloatVector.broadcast(S, scale);
        for (int r = 0; r < rows; r++) {
            int o = off + r * ld;
            int n = n0 + r + 1;
            // max commutes with scaling by a positive float (rounding is monotonic).
            float max = Vec.max(p, o, n) * scale;
            FloatVector vm = FloatVector.broadcast(S, max);
            FloatVector acc = FloatVector.zero(S);
            int i = 0;
            for (; i <= n - L; i += L) {
                FloatVector e = Vec.exp(FloatVector.fromArray(S, p, o + i).mul(vs).sub(vm));
                e.intoArray(p, o + i);
                acc = acc.add(e);
            }
            if (i < n) {
                VectorMask<Float> m = S.indexInRange(i, n);
                FloatVector e = Vec.exp(FloatVector.fromArray(S, p, o + i, m).mul(vs).sub(vm));
                e.intoArray(p, o + i, m);
                acc = acc.add(e, m);
            }
            acc.intoArray(lanes, 0);
            FloatVector inv = FloatVector.broadcast(S, 1f / sumInOrder(lanes));
            i = 0;
            for (; i <= n - L; i += L) FloatVector.fromArray(S, p, o + i).mul(inv).intoArray(p, o + i);
            for (; i < n; i++) p[o + i] *= inv.lane(0);
            java.util.Arrays.fill(p, o + n, o + width, 0f);
        }
    }

    /**
     * Causal softmax backward of a block of rows in place: {@code ds} holds dP for keys
     * [0, n0 + r + 1) of row r and becomes {@code dS = P (dP - rowsum(P dP))} there, zero up to
     * {@code width}.
     */
    public static void causalBackward(float[] p, float[] ds, int off, int ld, int rows, int n0, int width) {
        float[] lanes = new float[L];
        for (int r = 0; r < rows; r++) {
            int o = off + r * ld;
            int n = n0 + r + 1;
            FloatVector acc = FloatVector.zero(S);
            int i = 0;
            for (; i <= n - L; i += L) {
                acc = FloatVector.fromArray(S, p, o + i).fma(FloatVector.fromArray(S, ds, o + i), acc);
            }
            if (i < n) {
                VectorMask<Float> m = S.indexInRange(i, n);
                acc = FloatVector.fromArray(S, p, o + i, m).fma(FloatVector.fromArray(S, ds, o + i, m), acc);
            }
            acc.intoArray(lanes, 0);
            float dot = sumInOrder(lanes);
            FloatVector vc = FloatVector.broadcast(S, dot);
            i = 0;
            for (; i <= n - L; i += L) {
                FloatVector.fromArray(S, p, o + i).mul(FloatVector.fromArray(S, ds, o + i).sub(vc)).intoArray(ds, o + i);
            }
            for (; i < n; i++) ds[o + i] = p[o + i] * (ds[o + i] - dot);
            java.util.Arrays.fill(ds, o + n, o + width, 0f);
        }
    }
}
