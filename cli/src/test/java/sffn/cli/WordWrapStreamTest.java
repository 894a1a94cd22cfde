package sffn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Streamed text breaks at the first space past the wrap column; nothing else changes. */
class WordWrapStreamTest {
    @Test
    void longTextBecomesLinesNearTheWrapColumn() throws IOException {
        SplittableRandom r = new SplittableRandom(3);
        String[] words = {"the", "jury", "said", "Atlanta's", "élection", "naïveté", "—", "日本語", "x", "antidisestablishment"};
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 500; i++) {
            text.append(words[r.nextInt(words.length)]).append(i % 97 == 96 ? "\n" : " ");
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        WordWrapStream wrap = new WordWrapStream(bytes, 40);
        byte[] utf8 = text.toString().getBytes(StandardCharsets.UTF_8);
        // streamed in uneven pieces, as tokens arrive (pieces may split a character's bytes)
        for (int i = 0; i < utf8.length; ) {
            int n = Math.min(utf8.length - i, 1 + r.nextInt(7));
            wrap.write(utf8, i, n);
            i += n;
        }
        String wrapped = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(text.toString().replace('\n', ' '), wrapped.replace('\n', ' '), "only spaces became line breaks");
        int longest = "antidisestablishment".length();
        String[] lines = wrapped.split("\n");
        assertTrue(lines.length > 500 * 5 / 40 / 2, "wrapped into many lines: " + lines.length);
        for (String line : lines) {
            assertTrue(line.codePointCount(0, line.length()) <= 40 + longest, line);
            assertTrue(!line.startsWith(" "), "a break replaces the space: '" + line + "'");
        }
    }

    @Test
    void columnCountsCharactersNotBytes() throws IOException {
        WordWrapStream wrap = new WordWrapStream(new ByteArrayOutputStream(), 10);
        wrap.write("日本語 é\n".getBytes(StandardCharsets.UTF_8));
        assertEquals(0, wrap.column());
        wrap.write("日本語 é".getBytes(StandardCharsets.UTF_8));
        assertEquals(5, wrap.column());
        wrap.lineStarted();
        assertEquals(0, wrap.column());
    }
}
