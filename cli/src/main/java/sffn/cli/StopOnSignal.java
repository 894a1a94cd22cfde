package sffn.cli;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import sffn.train.Trainer;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * Ctrl-C (SIGINT) or SIGTERM during training: the first asks the trainer to stop at the end of the
 * current step and save a checkpoint there (the run can be resumed); a second quits at once,
 * leaving the last checkpoint as it was. The previous handlers come back on {@link #close}.
 */
final class StopOnSignal implements AutoCloseable {
    private final List<Signal> signals = new ArrayList<>();
    private final List<SignalHandler> previous = new ArrayList<>();

    private StopOnSignal() {
    }

    static StopOnSignal install(Trainer trainer, PrintStream err) {
        StopOnSignal s = new StopOnSignal();
        AtomicInteger count = new AtomicInteger();
        ConsoleLines console = ConsoleLines.of(err);
        SignalHandler handler = sig -> {
            if (count.incrementAndGet() == 1) {
                console.error("SIG" + sig.getName() + ": stopping at the end of this step and saving a checkpoint"
                        + " (press Ctrl-C again to quit at once, without saving)");
                trainer.requestStop(true);
            } else {
                console.error("SIG" + sig.getName() + " again: quitting without saving; the last checkpoint is kept");
                Runtime.getRuntime().halt(130);
            }
        };
        for (String name : List.of("INT", "TERM")) {
            try {
                Signal sig = new Signal(name);
                s.previous.add(Signal.handle(sig, handler));
                s.signals.add(sig);
            } catch (IllegalArgumentException e) {
                // the signal does not exist here, or the JVM keeps it (-Xrs): the default handling stays
            }
        }
        return s;
    }

    @Override
    public void close() {
        for (int i = 0; i < signals.size(); i++) {
            Signal.handle(signals.get(i), previous.get(i));
        }
    }
}
