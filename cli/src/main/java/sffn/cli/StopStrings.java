package sffn.cli;

import java.io.PrintStream;
import java.util.List;

/**
 * Streams generated text to {@code out} until it produces one of the stop strings, which is left
 * out. Text that could still be the start of a stop string is held back until it is clear that
 * it is not.
 */
final class StopStrings {
    private final List<String> stops;
    private final PrintStream out;
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;

    StopStrings(List<String> stops, PrintStream out) {
        this.stops = stops.stream().map(StopStrings::unescape).filter(s -> !s.isEmpty()).toList();
        this.out = out;
    }

    static String unescape(String s) {
        return s.replace("\\n", "\n").replace("\\t", "\t");
    }

    boolean stopped() {
        return stopped;
    }

    /** Takes the next piece of text; prints what is sure not to be part of a stop string. */
    void add(String piece) {
        if (stopped) {
            return;
        }
        held.append(piece);
        int cut = -1;
        for (String s : stops) {
            int at = held.indexOf(s);
            if (at >= 0 && (cut < 0 || at < cut)) {
                cut = at;
            }
        }
        if (cut >= 0) {
            out.print(held.substring(0, cut));
            held.setLength(0);
            stopped = true;
            return;
        }
        int keep = 0;
        for (String s : stops) {
            for (int k = Math.min(s.length() - 1, held.length()); k > keep; k--) {
                if (held.toString().regionMatches(held.length() - k, s, 0, k)) {
                    keep = k;
                    break;
                }
            }
        }
        out.print(held.substring(0, held.length() - keep));
        held.delete(0, held.length() - keep);
    }

    /** Prints what is still held (the text ended without completing a stop string). */
    void finish() {
        if (!stopped) {
            out.print(held);
        }
        held.setLength(0);
    }
}
