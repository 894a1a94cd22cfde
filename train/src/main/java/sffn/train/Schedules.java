package sffn.train;

/**
 * The learning-rate and guide-weight schedules, as functions of the 0-based optimizer step.
 *
 * <pre>
 *   lr(s) = (s + 1) / W * lr                                   s &lt; W = floor(warmup_ratio * T)
 *         = min + (lr - min) (1 + cos(pi (s - W) / (T - W))) / 2  otherwise, min = min_lr_ratio * lr
 *   a(s)  = (1 + cos(pi s / G)) / 2   (cosine)  or  1 - s / G  (linear), for s &lt; G guided steps; 0 after
 * </pre>
 * As in the paper's code, step 0 trains with a = 1 and the guide is dropped once a reaches 0.
 */
public final class Schedules {
    private Schedules() {
    }

    public static double learningRate(TrainConfig c, int step) {
        int total = c.totalSteps();
        int warmup = (int) (c.warmupRatio() * total);
        if (step < warmup) return (step + 1.0) / warmup * c.lr();
        double min = c.minLrRatio() * c.lr();
        double progress = total == warmup ? 1 : (double) (step - warmup) / (total - warmup);
        return min + (c.lr() - min) * (1 + Math.cos(Math.PI * Math.min(1, progress))) / 2;
    }

    public static double guideWeight(TrainConfig.Schedule schedule, int guidedSteps, int step) {
        if (step >= guidedSteps) return 0;
        double t = (double) step / guidedSteps;
        return schedule == TrainConfig.Schedule.COSINE ? (1 + Math.cos(Math.PI * t)) / 2 : 1 - t;
    }
}
