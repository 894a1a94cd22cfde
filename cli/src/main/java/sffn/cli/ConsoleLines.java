package sffn.cli;

import java.io.PrintStream;

/**
 * The one writer of the console while a command shows progress: a status line redrawn in place
 * (on a terminal only, see {@link Terminal}) and messages printed above it. A message erases the
 * status line, prints itself on a line of its own and redraws the status below, all under one
 * lock, so a message and the status never share or overwrite a line. Into a file or pipe the
 * status line is never drawn (no '\r'), and messages are plain lines.
 */
final class ConsoleLines {
    /** The one for standard output and error (they share the terminal), made again if System.setOut/setErr replaced them. */
    private static ConsoleLines standard;

    /** Redraws of an unchanged-length status are at most this often, so a fast loop does not flood the terminal. */
    private static final long REDRAW_NANOS = 200_000_000L;

    private final PrintStream out;
    private final PrintStream err;
    private final boolean terminal;
    private String status;
    private boolean drawn;
    private long lastDraw;

    /** The process's console for its standard streams; plain lines (no status) for any other stream. */
    static synchronized ConsoleLines of(PrintStream stream) {
        if (stream != System.out && stream != System.err) return new ConsoleLines(stream, stream, false);
        if (standard == null || standard.out != System.out || standard.err != System.err) {
            standard = new ConsoleLines(System.out, System.err, Terminal.interactive());
        }
        return standard;
    }

    ConsoleLines(PrintStream out, PrintStream err, boolean terminal) {
        this.out = out;
        this.err = err;
        this.terminal = terminal;
    }

    /** Whether a status line is shown at all (a terminal). */
    boolean terminal() {
        return terminal;
    }

    /** Sets the status line; on a terminal it is redrawn now, or within {@value #REDRAW_NANOS} ns when {@code force} is false. */
    synchronized void status(String text, boolean force) {
        if (!terminal) return;
        status = text;
        long now = System.nanoTime();
        if (force || !drawn || now - lastDraw >= REDRAW_NANOS) {
            draw();
            lastDraw = now;
        }
    }

    /** A line on standard output, above the status line. */
    void message(String text) {
        print(out, text);
    }

    /** A line on standard error, above the status line. */
    void error(String text) {
        print(err, text);
    }

    /** Erases the status line and forgets it. */
    synchronized void clearStatus() {
        erase();
        status = null;
    }

    private synchronized void print(PrintStream stream, String text) {
        erase();
        stream.println(text);
        stream.flush();
        if (status != null) draw();
    }

    private void erase() {
        if (drawn) {
            out.print("\r\033[K");
            out.flush();
            drawn = false;
        }
    }

    private void draw() {
        if (status == null) return;
        out.print("\r\033[K" + status);
        out.flush();
        drawn = true;
    }
}
