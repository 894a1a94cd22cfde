package sffn.cli;

import java.io.Console;

/** Whether the user watches a terminal: progress bars (redrawn with '\r') are shown there only, never in files or pipes. */
final class Terminal {
    private static final boolean INTERACTIVE = detect();

    private Terminal() {
    }

    /** True when standard input and output are a terminal and {@code SFFN_PLAIN_PROGRESS} is not set. */
    static boolean interactive() {
        return INTERACTIVE;
    }

    private static boolean detect() {
        Console c = System.console();
        if (c == null || System.getenv("SFFN_PLAIN_PROGRESS") != null) {
            return false;
        }
        // From Java 22 a Console exists for redirected streams too, and isTerminal() tells them apart;
        // before 22 (this project builds for 21) a Console exists only on a terminal.
        try {
            return (Boolean) Console.class.getMethod("isTerminal").invoke(c);
        } catch (ReflectiveOperationException e) {
            return true;
        }
    }
}
