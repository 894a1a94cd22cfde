package sffn.kernels.backend;

import java.util.Arrays;
import sffn.kernels.plan.Plan;

/**
 * Median wall time of a plan on a backend. Warm-up comes first, long enough for the JIT: the
 * Vector API runs hundreds of times slower before C2 compiles a kernel's path, so runs continue
 * until their time stops improving ({@link #warmUp}); then timed runs, as many as fill about
 * {@code budgetMillis}.
 */
public final class Timing {
    private static final double MAX_WARM_MILLIS = 4000;

    private Timing() {
    }

    /** Median milliseconds per run of an already prepared plan. */
    public static double medianMillis(Backend backend, Plan plan, double budgetMillis) {
        double best = warmUp(() -> backend.run(plan), budgetMillis / 3, MAX_WARM_MILLIS);
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

    /**
     * Runs {@code run} until its time has stopped improving: at least three runs and
     * {@code minMillis}, and no run more than 5% faster than the best before it during the last
     * half of {@code minMillis} (C2 compiles a kernel's paths one after another, so a time can
     * look steady for a while and then drop again); stops after {@code maxMillis} regardless.
     * Returns the fastest run's milliseconds.
     */
    public static double warmUp(Runnable run, double minMillis, double maxMillis) {
        long start = System.nanoTime();
        double best = Double.MAX_VALUE;
        double improvedAt = 0;
        for (int warm = 1; ; warm++) {
            long t0 = System.nanoTime();
            run.run();
            long t1 = System.nanoTime();
            double t = (t1 - t0) / 1e6;
            double elapsed = (t1 - start) / 1e6;
            if (t < 0.95 * best) improvedAt = elapsed;
            best = Math.min(best, t);
            if (elapsed > maxMillis || warm >= 3 && elapsed >= minMillis && elapsed - improvedAt >= minMillis / 2) return best;
        }
    }
}
