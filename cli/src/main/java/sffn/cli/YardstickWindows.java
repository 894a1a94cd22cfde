package sffn.cli;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.DoubleSupplier;
import sffn.cli.bench.Yardstick;
import sffn.train.TrainListener;

/**
 * {@code train --yardstick} on one process: OpenBLAS's sgemm sampled between the training steps
 * (the median of three calls, every {@link #EVERY_NANOS} or after each step where steps take
 * longer; outside the steps' own timing), so that each window of steps between two samples is
 * compared with the yardstick measured around it. A shared host changes speed from one minute to
 * the next: measured once after training, the yardstick put a tiny LowRank-32% run at 75.3% of
 * an OpenBLAS that ran at 208 GFLOP/s, where it runs at 330-400 most of the time. The
 * utilisation is the median over the windows of (the window's training FLOPs per second) / (the
 * mean of the samples before and after it).
 *
 * <p>The steps counted are the ones {@link ConsoleTrainListener} counts for the throughput (after
 * the first {@link ConsoleTrainListener#WARM_UP_STEPS}); an evaluation or a checkpoint first
 * closes the open window with a sample. After each sample the thread sleeps
 * {@link #SETTLE_MILLIS}: OpenBLAS's threads spin for a while after a call returns and would take
 * cores from the next step.
 */
final class YardstickWindows extends TrainListener.Forwarding {
    /** Wall time between samples: three calls of about 50-100 ms each and the settling pause every 2 s. */
    static final long EVERY_NANOS = 2_000_000_000L;
    static final long SETTLE_MILLIS = 100;

    /** Steps between two samples, and the samples around them (GFLOP/s). */
    record Window(double flops, double tokens, double seconds, double before, double after) {
        double yardstick() {
            return (before + after) / 2;
        }
    }

    private final DoubleSupplier sample;
    private final Runnable release;
    private final String yardstick;
    private final long every;
    private boolean closed;
    private final List<Window> windows = new ArrayList<>();
    private final List<Double> samples = new ArrayList<>();
    private int steps;
    private double lastFlops = Double.NaN;
    private long lastTokens;
    private double flops;
    private double tokens;
    private double seconds;
    private double open = Double.NaN;
    private long lastSample;

    /** Warms OpenBLAS up (about a second) before training starts. */
    YardstickWindows(TrainListener next) {
        this(next, Yardstick.sampler(), EVERY_NANOS);
    }

    private YardstickWindows(TrainListener next, Yardstick.Sampler sampler, long everyNanos) {
        this(next, sampler::sample, sampler.describe(), sampler::close, everyNanos);
    }

    /** Asks {@code sample} for the yardstick's GFLOP/s, at most every {@code everyNanos}; {@code release} at the end. */
    YardstickWindows(TrainListener next, DoubleSupplier sample, String description, Runnable release, long everyNanos) {
        super(next);
        this.sample = sample;
        this.release = release;
        this.yardstick = description;
        this.every = everyNanos;
    }

    @Override
    public void step(Step s) {
        next.step(s);
        if (++steps > ConsoleTrainListener.WARM_UP_STEPS && !Double.isNaN(lastFlops) && !Double.isNaN(open)) {
            double stepTokens = s.tokens() - lastTokens;
            flops += s.flops() - lastFlops;
            tokens += stepTokens;
            seconds += stepTokens / s.tokensPerSecond();
        }
        lastFlops = s.flops();
        lastTokens = s.tokens();
        if (steps >= ConsoleTrainListener.WARM_UP_STEPS && (Double.isNaN(open) || System.nanoTime() - lastSample >= every)) {
            takeSample();
        }
    }

    @Override
    public void evaluating(int step) {
        finish();
        next.evaluating(step);
    }

    @Override
    public void saving(int step) {
        finish();
        next.saving(step);
    }

    /** The run's last sample, then OpenBLAS's operands are freed. */
    @Override
    public void finished() {
        finish();
        if (!closed) release.run();
        closed = true;
        next.finished();
    }

    /** Ends the open window, if it has steps, with a sample. */
    private void finish() {
        if (seconds > 0 && !Double.isNaN(open) && !closed) takeSample();
    }

    /** Ends the open window with a sample, and opens the next. */
    private void takeSample() {
        double g = sample.getAsDouble();
        samples.add(g);
        if (!Double.isNaN(open) && seconds > 0) windows.add(new Window(flops, tokens, seconds, open, g));
        open = g;
        flops = 0;
        tokens = 0;
        seconds = 0;
        try {
            Thread.sleep(SETTLE_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        lastSample = System.nanoTime();
    }

    List<Window> windows() {
        return windows;
    }

    /**
     * The summary line, or a line saying why there is none; {@code modelFlopsPerToken}: the
     * structured model's training FLOPs per token, without the guide.
     */
    String describe(double modelFlopsPerToken) {
        if (windows.isEmpty()) {
            return "utilisation: no window of steps between two OpenBLAS samples (the run has no steps after the first "
                    + ConsoleTrainListener.WARM_UP_STEPS + "); run more steps";
        }
        double[] executed = new double[windows.size()];
        double[] model = new double[windows.size()];
        for (int i = 0; i < executed.length; i++) {
            Window w = windows.get(i);
            executed[i] = w.flops() / w.seconds() / 1e9 / w.yardstick();
            model[i] = w.tokens() * modelFlopsPerToken / w.seconds() / 1e9 / w.yardstick();
        }
        double[] g = samples.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        double[] e = executed.clone();
        Arrays.sort(e);
        return String.format(Locale.ROOT, "utilisation: executed FLOPs (guide included) %.1f%% of OpenBLAS, the structured"
                        + " model's FLOPs %.1f%%: medians over %d %s of steps of their GFLOP/s over the mean of the"
                        + " OpenBLAS samples before and after (windows %.1f-%.1f%%); %s, %d samples (median of 3 calls"
                        + " each): median %.1f GFLOP/s, %.1f-%.1f",
                100 * median(executed), 100 * median(model), windows.size(), windows.size() == 1 ? "window" : "windows",
                100 * e[0], 100 * e[e.length - 1],
                yardstick, g.length, median(g), g[0], g[g.length - 1]);
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }
}
