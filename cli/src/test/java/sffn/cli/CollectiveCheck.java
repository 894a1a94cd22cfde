package sffn.cli;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import sffn.train.dist.Collective;

/**
 * Every {@link Collective} operation on the ranks {@code mpirun} starts, checked against the
 * values each rank can compute alone; prints {@code collectives ok on rank r of n} or exits 1.
 * Rank r contributes {@code 1000 r + i} at index i, so a sum over n ranks is
 * {@code 1000 n(n-1)/2 + n i}, exact in float for these sizes.
 */
public final class CollectiveCheck {
    public static void main(String[] args) {
        try (Collective c = Collective.fromEnvironment(); Arena arena = Arena.ofConfined()) {
            int n = c.size();
            int r = c.rank();
            int count = 1000;
            MemorySegment buf = arena.allocate(JAVA_FLOAT, count);
            fill(buf, count, r);
            c.allReduceSum(buf, 0, 300);
            Collective.Request req = c.allReduceSumAsync(buf, 300, 500);
            c.barrier();
            req.await();
            for (int i = 0; i < count; i++) {
                float want = i < 800 ? 1000f * n * (n - 1) / 2 + n * i : 1000f * r + i;
                check(buf.getAtIndex(JAVA_FLOAT, i) == want, "all-reduce at " + i);
            }
            int[] counts = new int[n];
            for (int k = 0; k < n; k++) counts[k] = count / n + (k < count % n ? 1 : 0);
            int from = 0;
            for (int k = 0; k < r; k++) from += counts[k];
            fill(buf, count, r);
            c.reduceScatterSum(buf, counts);
            for (int i = from; i < from + counts[r]; i++) {
                check(buf.getAtIndex(JAVA_FLOAT, i) == 1000f * n * (n - 1) / 2 + n * i, "reduce-scatter at " + i);
            }
            fill(buf, count, r);
            c.allGather(buf, counts);
            int owner = 0;
            int end = counts[0];
            for (int i = 0; i < count; i++) {
                while (i >= end) end += counts[++owner];
                check(buf.getAtIndex(JAVA_FLOAT, i) == 1000f * owner + i, "all-gather at " + i);
            }
            fill(buf, count, r);
            c.broadcast(buf, 64 * Float.BYTES, n - 1);
            for (int i = 0; i < 64; i++) check(buf.getAtIndex(JAVA_FLOAT, i) == 1000f * (n - 1) + i, "broadcast at " + i);
            check(buf.getAtIndex(JAVA_FLOAT, 64) == 1000f * r + 64, "broadcast stays within its bytes");
            check(c.allReduceSum(0.25 + r) == 0.25 * n + n * (n - 1) / 2.0, "double all-reduce");
            long[] all = c.allGather(7L * r - 3);
            long[] want = new long[n];
            for (int k = 0; k < n; k++) want[k] = 7L * k - 3;
            check(Arrays.equals(all, want), "long all-gather " + Arrays.toString(all));
            System.out.println("collectives ok on rank " + r + " of " + n + " (" + c.describe() + ")");
        }
    }

    private static void fill(MemorySegment buf, int count, int rank) {
        for (int i = 0; i < count; i++) buf.setAtIndex(JAVA_FLOAT, i, 1000f * rank + i);
    }

    private static void check(boolean ok, String what) {
        if (!ok) {
            System.err.println("collective check failed: " + what);
            System.exit(1);
        }
    }
}
