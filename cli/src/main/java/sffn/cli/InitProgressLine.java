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
        ConsoleLines console = ConsoleLines.of(out);
        model.init(seed, (done, total) -> console.status(String.format(Locale.ROOT,
                "initialising weights: %d/%d linears (%.0f s)", done, total, (System.nanoTime() - t0) / 1e9), false));
        double seconds = (System.nanoTime() - t0) / 1e9;
        console.clearStatus();
        if (seconds >= 1) {
            console.message(String.format(Locale.ROOT, "initialised the weights in %.1f s (%d threads)", seconds,
                    java.util.concurrent.ForkJoinPool.getCommonPoolParallelism() + 1));
        }
        return model;
    }
}
