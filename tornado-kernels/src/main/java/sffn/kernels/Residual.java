package sffn.kernels;

import jdk.incubator.vector.FloatVector;
import sffn.kernels.cpu.Vec;
import sffn.kernels.cpu.Workers;
import uk.ac.manchester.tornado.api.annotations.Parallel;

/** Residual add, in place: {@code x += y}. Its backward passes the gradient through unchanged. */
public final class Residual {
    static final int GRAIN = 1 << 14;

    private Residual() {
    }

    public static void add(float[] x, float[] y, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            x[i] += y[i];
        }
    }

    /** {@code sum = src + y}: a copy of the stream and the add, in one pass (a device task). */
    public static void sum(float[] src, float[] y, float[] sum, int n) {
        for (@Parallel int i = 0; i < n; i++) {
            sum[i] = src[i] + y[i];
        }
    }

    /** {@code sum = src + y} in one pass (the bits of a copy, then {@link #addCpu} on it). */
    public static void sumCpu(float[] src, float[] y, float[] sum, int n) {
        Workers.pool().parallelFor(n, GRAIN, (from, to) -> sumSpan(src, y, sum, from, to - from));
    }

    /** {@code sum[o .. o+len) = src + y} on the calling thread. */
    public static void sumSpan(float[] src, float[] y, float[] sum, int o, int len) {
        int i = o;
        int end = o + len;
        for (; i <= end - Vec.L; i += Vec.L) {
            FloatVector.fromArray(Vec.S, src, i).add(FloatVector.fromArray(Vec.S, y, i)).intoArray(sum, i);
        }
        for (; i < end; i++) sum[i] = src[i] + y[i];
    }

    public static void addCpu(float[] x, float[] y, int n) {
        Workers.pool().parallelFor(n, GRAIN, (from, to) -> {
            int i = from;
            for (; i <= to - Vec.L; i += Vec.L) {
                FloatVector.fromArray(Vec.S, x, i).add(FloatVector.fromArray(Vec.S, y, i)).intoArray(x, i);
            }
            for (; i < to; i++) x[i] += y[i];
        });
    }
}
