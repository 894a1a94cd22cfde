package sffn.kernels.backend;

import java.util.Arrays;
import sffn.kernels.plan.Plan;

/**
 * Median wall time of a plan on a backend. Warm-up comes first, long enough for the JIT: the
 * Vector API runs hundreds of times slower before C2 compiles a kernel's path, so runs continue
 * until one is within 10% of the fastest so far (and for at least a third of the budget, at most
 * a few seconds); then timed runs, as many as fill about {@code budgetMillis}.
 */
public final class Timing {
    private static final double MAX_WARM_MILLIS = 4000;

    private Timing() {
    }

    /** Median milliseconds per run of an already prepared plan. */
    public static double medianMillis(Backend backend, Plan plan, double budgetMillis) {
        long start = System.nanoTime();
        double best = Double.MAX_VALUE;
        int warm = 0;
        while (true) {
            long t0 = System.nanoTime();
            backend.run(plan);
            double t = (System.nanoTime() - t0) / 1e6;
            boolean settled = t <= 1.1 * best;
            best = Math.min(best, t);
            warm++;
            double elapsed = (System.nanoTime() - start) / 1e6;
            if (elapsed > MAX_WARM_MILLIS || warm >= 3 && settled && elapsed >= budgetMillis / 3) break;
        }
        int reps = (int) Math.max(3, Math.min(101, budgetMillis / Math.max(best, 1e-3)));
        double[] t = new double[reps];
        for (int i = 0; i < reps; i++) {
            long s = System.nanoTime();
            backend.run(plan);
            t[i] = (System.nanoTime() - s) / 1e6;
        }
        Arrays.sort(t);
        return t[reps / 2];
    }
}
