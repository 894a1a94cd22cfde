package sffn.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * Row operations of a causal softmax over a block of scores (queries t0 + r, keys u0 + i) and
 * of its backward, vectorised with {@link Vec#exp} and lane sums in a fixed order, so they give
 * the same bits whatever the JIT tier (see {@link Vec}). The lanes are summed through memory, in
 * lane order: a helper taking the vector itself (such as {@code Vec.sumLanes}) boxes it whenever
 * the JIT declines to inline the call, which costs more than the row. Key u is visible to query
 * t when {@code u <= t}; invisible entries become exactly 0.
 */
public final class SoftmaxRows {
    private static final VectorSpecies<Float> S = Vec.S;
    private static final int L = Vec.L;
    /** Each thread's lane sums, allocated once, with slack (see Attention's ROW_STATE). */
    private static final ThreadLocal<float[]> LANES = ThreadLocal.withInitial(() -> new float[L + 16]);

    private SoftmaxRows() {
    }

    private static float sumInOrder(float[] lanes) {
        float s = 0f;
        for (int i = 0; i < L; i++) s += lanes[i];
        return s;
    }

    /** Keys of the block [u0, u0 + n) visible to query t: a prefix of this length. */
    private static int visible(int t, int u0, int n) {
        return Math.max(0, Math.min(n, t - u0 + 1));
    }

    /** {@code x[off+i] *= s}. */
    public static void scale(float[] x, int off, int n, float s) {
        FloatVector vs = FloatVector.broadcast(S, s);
        int i = 0;
        for (; i <= n - L; i += L) FloatVector.fromArray(S, x, off + i).mul(vs).intoArray(x, off + i);
        for (; i < n; i++) x[off + i] *= s;
    }

    /**
     * One key block of an online softmax. Row r of {@code s} (at {@code s[r*ld]}, n keys) holds raw
     * scores q.k; with the running max {@code m[r]} (of scaled scores, -inf before the first block)
     * and denominator {@code l[r]}, it becomes {@code p = exp(scale s - m')} (0 where invisible) for
     * the new max {@code m' = max(m, scale max s)}, {@code l = l corr + sum p} and
     * {@code corr[r] = exp(m - m')}, the factor by which the row's output so far must be scaled.
     */
    public static void onlineBlock(float[] s, int ld, int rows, int t0, int u0, int n, float scale,
                                   float[] m, float[] l, float[] corr) {
        float[] lanes = LANES.get();
        FloatVector vs = FloatVector.broadcast(S, scale);
        for (int r = 0; r < rows; r++) {
            int o = r * ld;
            int nv = visible(t0 + r, u0, n);
            if (nv == 0) {
                java.util.Arrays.fill(s, o, o + n, 0f);
                corr[r] = 1f;
                continue;
            }
            // max commutes with scaling by a positive float (rounding is monotonic).
            float mNew = Math.max(m[r], Vec.max(s, o, nv) * scale);
            corr[r] = m[r] == Float.NEGATIVE_INFINITY ? 0f : Vec.exp(m[r] - mNew);
            m[r] = mNew;
            FloatVector vm = FloatVector.broadcast(S, mNew);
            FloatVector acc = FloatVector.zero(S);
            int i = 0;
            for (; i <= nv - L; i += L) {
                FloatVector e = Vec.exp(FloatVector.fromArray(S, s, o + i).mul(vs).sub(vm));
                e.intoArray(s, o + i);
                acc = acc.add(e);
            }
            if (i < nv) {
                VectorMask<Float> mask = S.indexInRange(i, nv);
                FloatVector e = Vec.exp(FloatVector.fromArray(S, s, o + i, mask).mul(vs).sub(vm));
                e.intoArray(s, o + i, mask);
                acc = acc.add(e, mask);
            }
            acc.intoArray(lanes, 0);
            l[r] = l[r] * corr[r] + sumInOrder(lanes);
            java.util.Arrays.fill(s, o + nv, o + n, 0f);
        }
    }

    /**
     * Softmax backward of a block from the saved log-sum-exp: row r of the scores (at
     * {@code buf[sOff + r*ld]}, n keys) holds raw scores and becomes {@code P = exp(scale s - lse[t])};
     * row r of dP (at {@code buf[dpOff + r*ld]}) holds dP = dout.v and becomes {@code dS = P (dP - delta[t])}, where {@code delta[t] = rowsum(P dP) = dout_t . out_t}
     * and t = t0 + r indexes {@code lse} and {@code delta} from {@code rowOff}. Invisible entries: 0.
     */
    public static void backwardBlock(float[] buf, int sOff, int dpOff, int ld, int rows, int t0, int u0, int n, float scale,
                                     float[] lse, float[] delta, int rowOff) {
        FloatVector vs = FloatVector.broadcast(S, scale);
        for (int r = 0; r < rows; r++) {
            int o = sOff + r * ld;
            int q = dpOff + r * ld;
            int nv = visible(t0 + r, u0, n);
            FloatVector vl = FloatVector.broadcast(S, lse[rowOff + r]);
            FloatVector vd = FloatVector.broadcast(S, delta[rowOff + r]);
            int i = 0;
            for (; i <= nv - L; i += L) {
                FloatVector p = Vec.exp(FloatVector.fromArray(S, buf, o + i).mul(vs).sub(vl));
                p.intoArray(buf, o + i);
                p.mul(FloatVector.fromArray(S, buf, q + i).sub(vd)).intoArray(buf, q + i);
            }
            if (i < nv) {
                VectorMask<Float> mask = S.indexInRange(i, nv);
                FloatVector p = Vec.exp(FloatVector.fromArray(S, buf, o + i, mask).mul(vs).sub(vl));
                p.intoArray(buf, o + i, mask);
                p.mul(FloatVector.fromArray(S, buf, q + i, mask).sub(vd)).intoArray(buf, q + i, mask);
            }
            java.util.Arrays.fill(buf, o + nv, o + n, 0f);
            java.util.Arrays.fill(buf, q + nv, q + n, 0f);
        }
    }
}
