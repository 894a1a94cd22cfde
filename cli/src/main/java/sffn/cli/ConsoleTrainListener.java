package sffn.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import sffn.train.TrainListener;

/**
 * Shows training on the console: a status line (bar, steps, ETA, loss, LR, guide weight) under the
 * messages on a terminal; plain log lines (about twenty per run, plus every evaluation and
 * checkpoint) when the output is a file or pipe. Everything goes through {@link ConsoleLines}, so
 * messages and the status line never overwrite each other.
 */
final class ConsoleTrainListener implements TrainListener {
    /**
     * The first steps of an invocation, which run while the JIT compiles the kernels, do not
     * count towards the throughput (nor towards the CPU's {@code --profile} of a run).
     */
    static final int WARM_UP_STEPS = 3;

    private final ConsoleLines out;
    private boolean bar;
    private int total;
    private int fromStep;
    private long startNanos;
    private int every;
    private double seconds;
    private double tokens;
    private double flops;
    private double lastFlops = Double.NaN;

    ConsoleTrainListener(PrintStream out) {
        this.out = ConsoleLines.of(out);
    }

    @Override
    public void started(String description, int fromStep, int totalSteps) {
        total = totalSteps;
        every = Math.max(1, totalSteps / 20);
        this.fromStep = fromStep;
        this.startNanos = System.nanoTime();
        out.message("training " + description + (fromStep > 0 ? ", resuming at step " + fromStep : ""));
        bar = out.terminal();
    }

    @Override
    public void step(Step s) {
        if (++measured > WARM_UP_STEPS && !Double.isNaN(lastFlops)) {
            double stepTokens = s.tokens() - lastTokens;
            double t = stepTokens / s.tokensPerSecond();
            seconds += t;
            tokens += stepTokens;
            flops += s.flops() - lastFlops;
            commSeconds += s.commWaitSeconds();
            stepSeconds += s.stepSeconds();
        }
        lastFlops = s.flops();
        lastTokens = s.tokens();
        String msg = String.format(Locale.ROOT, "loss %.4f lr %.2e%s %,.0f tok/s%s", s.loss(), s.lr(),
                s.guided() ? String.format(Locale.ROOT, " a %.3f", s.guideWeight()) : "", s.tokensPerSecond(),
                s.commWaitSeconds() > 0 ? String.format(Locale.ROOT, " comm wait %.1f ms", 1e3 * s.commWaitSeconds()) : "");
        if (bar) {
            out.status(statusLine(s.step(), msg), s.step() == total);
        } else if (s.step() % every == 0 || s.step() == 1 || s.step() == total) {
            out.message(String.format(Locale.ROOT, "step %d/%d  %s  grad norm %.3f", s.step(), total, msg, s.gradNorm()));
        }
    }

    @Override
    public void evaluated(Eval e) {
        line(String.format(Locale.ROOT, "eval at step %d: val loss %.4f, val ppl %.3f (%,d tokens)", e.step(), e.valLoss(),
                e.valPpl(), e.tokens()));
    }

    @Override
    public void saved(int step, Path dir) {
        line("checkpoint at step " + step + " saved to " + dir);
    }

    @Override
    public void message(String text) {
        line(text);
    }

    @Override
    public void finished() {
        if (bar) {
            out.clearStatus();
            bar = false;
        }
    }

    private int measured;
    private double commSeconds;
    private double stepSeconds;
    private long lastTokens;

    /** Tokens per second over the steps after the first {@link #WARM_UP_STEPS} (JIT warm-up). */
    double meanTokensPerSecond() {
        return seconds == 0 ? Double.NaN : tokens / seconds;
    }

    /** Share of the step time spent waiting on data-parallel communication, over the same steps (0 in one process). */
    double commShare() {
        return stepSeconds == 0 ? 0 : commSeconds / stepSeconds;
    }

    /** Training FLOPs executed per second (guide included) over the same steps. */
    double flopsPerSecond() {
        return seconds == 0 ? Double.NaN : flops / seconds;
    }

    private void line(String text) {
        out.message(text);
    }

    /** "train  42% [========>            ] 420/1000  ETA 3m05s  loss ..." (ETA from this invocation's pace). */
    private String statusLine(int step, String msg) {
        int width = 24;
        int filled = total == 0 ? width : (int) ((long) width * step / total);
        StringBuilder b = new StringBuilder(width);
        for (int i = 0; i < width; i++) b.append(i < filled ? '=' : i == filled ? '>' : ' ');
        double elapsed = (System.nanoTime() - startNanos) / 1e9;
        int done = step - fromStep;
        String eta = done <= 0 ? "?" : duration(elapsed / done * (total - step));
        return String.format(Locale.ROOT, "train %3d%% [%s] %d/%d  ETA %s  %s", total == 0 ? 100 : 100L * step / total,
                b, step, total, eta, msg);
    }

    private static String duration(double seconds) {
        long s = Math.round(seconds);
        if (s >= 3600) return String.format(Locale.ROOT, "%dh%02dm", s / 3600, s / 60 % 60);
        if (s >= 60) return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        return s + "s";
    }
}
