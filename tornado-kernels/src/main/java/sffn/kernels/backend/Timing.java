package sffn.kernels.backend;

import java.util.Arrays;
import sffn.kernels.plan.Plan;

/**
 * Median wall time of a plan on a backend: warm-up runs first (JIT, caches, device upload),
 * then timed runs, their number scaled so a measurement takes about {@code budgetMillis}.
 */
public final class Timing {
    private Timing() {
    }

    /** Median milliseconds per run of an already prepared plan. */
    public static double medianMillis(Backend backend, Plan plan, double budgetMillis) {
        long start = System.nanoTime();
        int warm = 0;
        while (warm < 2 || (System.nanoTime() - start) / 1e6 < budgetMillis / 3 && warm < 100) {
            backend.run(plan);
            warm++;
        }
        double per = (System.nanoTime() - start) / 1e6 / warm;
        int reps = (int) Math.max(3, Math.min(101, budgetMillis / Math.max(per, 1e-3)));
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
