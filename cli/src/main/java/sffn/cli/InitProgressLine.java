package sffn.cli;

import java.io.PrintStream;
import java.util.Locale;
import sffn.nn.Gpt;

/**
 * Initialises a model's weights, showing how far it got on a terminal (a big structured model's
 * SVDs take minutes) and, when it took more than a second, how long it took.
 */
final class InitProgressLine {
    private InitProgressLine() {
    }

    static Gpt init(Gpt model, long seed, PrintStream out) {
        long t0 = System.nanoTime();
        boolean terminal = Terminal.interactive();
        model.init(seed, (done, total) -> {
            if (terminal) {
                synchronized (out) {
                    out.printf(Locale.ROOT, "\r\033[Kinitialising weights: %d/%d linears (%.0f s)", done, total,
                            (System.nanoTime() - t0) / 1e9);
                    out.flush();
                }
            }
        });
        double seconds = (System.nanoTime() - t0) / 1e9;
        if (terminal) {
            out.print("\r\033[K");
        }
        if (seconds >= 1) {
            out.printf(Locale.ROOT, "initialised the weights in %.1f s (%d threads)%n", seconds,
                    java.util.concurrent.ForkJoinPool.getCommonPoolParallelism() + 1);
        }
        return model;
    }
}
