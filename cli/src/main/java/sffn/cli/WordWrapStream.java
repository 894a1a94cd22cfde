package sffn.cli;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;

/**
 * Wraps streamed UTF-8 text for a reader at a terminal: the first space at or after column
 * {@code wrapAt} becomes a line break. The text streams through as it comes (nothing is held back
 * for a look-ahead), so a line may run past {@code wrapAt} by the word it is in. Columns count
 * code points (UTF-8 continuation bytes do not count); a newline in the text starts column 0.
 */
final class WordWrapStream extends FilterOutputStream {
    private final int wrapAt;
    private int column;

    WordWrapStream(OutputStream out, int wrapAt) {
        super(out);
        if (wrapAt < 1) throw new IllegalArgumentException("wrapAt must be at least 1, got " + wrapAt);
        this.wrapAt = wrapAt;
    }

    /** The column the next character goes to (0 at the start of a line). */
    int column() {
        return column;
    }

    /** The cursor is at the start of a line for another reason (the user pressed Enter at a prompt). */
    void lineStarted() {
        column = 0;
    }

    @Override
    public void write(int b) throws IOException {
        if (b == '\n') {
            column = 0;
            out.write(b);
        } else if (b == ' ' && column >= wrapAt) {
            column = 0;
            out.write('\n');
        } else {
            if ((b & 0xC0) != 0x80) column++;
            out.write(b);
        }
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        for (int i = off; i < off + len; i++) write(b[i]);
    }
}
