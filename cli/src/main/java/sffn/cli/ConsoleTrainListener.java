package sffn.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import sffn.train.TrainListener;

/**
 * Shows training on the console: a progress bar with loss, LR, guide weight and ETA on a
 * terminal; plain log lines (about twenty per run, plus every evaluation and checkpoint) when the
 * output is a file or pipe.
 */
final class ConsoleTrainListener implements TrainListener {
    private final PrintStream out;
    private final boolean interactive;
    private ProgressBar bar;
    private int total;
    private int every;
    private double seconds;
    private double tokens;
    private double flops;
    private double lastFlops = Double.NaN;

    ConsoleTrainListener(PrintStream out) {
        this.out = out;
        this.interactive = Terminal.interactive();
    }

    @Override
    public void started(String description, int fromStep, int totalSteps) {
        total = totalSteps;
        every = Math.max(1, totalSteps / 20);
        out.println("training " + description + (fromStep > 0 ? ", resuming at step " + fromStep : ""));
        if (interactive) {
            bar = new ProgressBarBuilder().setTaskName("train").setInitialMax(totalSteps).setStyle(ProgressBarStyle.ASCII)
                    .setUpdateIntervalMillis(250).setMaxRenderedLength(120).build();
            bar.stepTo(fromStep);
        }
    }

    @Override
    public void step(Step s) {
        // Steps after the first two of this invocation (JIT warm-up) count towards the throughput.
        if (!Double.isNaN(lastFlops) && ++measured > 2) {
            double stepTokens = s.tokens() - lastTokens;
            double t = stepTokens / s.tokensPerSecond();
            seconds += t;
            tokens += stepTokens;
            flops += s.flops() - lastFlops;
        }
        lastFlops = s.flops();
        lastTokens = s.tokens();
        String msg = String.format(Locale.ROOT, "loss %.4f lr %.2e%s %,.0f tok/s", s.loss(), s.lr(),
                s.guided() ? String.format(Locale.ROOT, " a %.3f", s.guideWeight()) : "", s.tokensPerSecond());
        if (bar != null) {
            bar.stepTo(s.step());
            bar.setExtraMessage(msg);
        } else if (s.step() % every == 0 || s.step() == 1 || s.step() == total) {
            out.printf(Locale.ROOT, "step %d/%d  %s  grad norm %.3f%n", s.step(), total, msg, s.gradNorm());
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
        if (bar != null) {
            bar.close();
            bar = null;
        }
    }

    private int measured;
    private long lastTokens;

    /** Tokens per second over the steps after the first two (JIT warm-up). */
    double meanTokensPerSecond() {
        return seconds == 0 ? Double.NaN : tokens / seconds;
    }

    /** Training FLOPs executed per second (guide included) over the same steps. */
    double flopsPerSecond() {
        return seconds == 0 ? Double.NaN : flops / seconds;
    }

    private void line(String text) {
        if (bar != null) {
            // The bar redraws on its own line; start ours on a fresh one.
            out.print("\r\033[K");
        }
        out.println(text);
    }
}
