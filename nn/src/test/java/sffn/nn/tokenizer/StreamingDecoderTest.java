package sffn.nn.tokenizer;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StreamingDecoderTest {

    private static void assertNoSplitCharacter(String piece) {
        if (!piece.isEmpty()) {
            assertFalse(Character.isLowSurrogate(piece.charAt(0)), "piece starts inside a surrogate pair");
            assertFalse(Character.isHighSurrogate(piece.charAt(piece.length() - 1)), "piece ends inside a surrogate pair");
        }
        assertFalse(piece.contains("\uFFFD"), "valid input must not produce U+FFFD: " + piece);
    }

    @Test
    void neverSplitsAMultiByteCharacterForAnyTokenizer() {
        SplittableRandom rnd = new SplittableRandom(3);
        for (String name : Tokenizers.NAMES) {
            Tokenizer t = Tokenizers.byName(name);
            for (int trial = 0; trial < 50; trial++) {
                String text = ByteTokenizerTest.randomUnicode(rnd, rnd.nextInt(1, 30))
                        + " \uD83E\uDD16 \u00E9\u00E8 \uD83D\uDC68\u200D\uD83D\uDCBB";
                StreamingDecoder d = t.streamingDecoder();
                StringBuilder all = new StringBuilder();
                for (int id : t.encode(text)) {
                    String piece = d.accept(id);
                    assertNoSplitCharacter(piece);
                    all.append(piece);
                }
                assertFalse(d.hasPending(), name);
                assertEquals("", d.finish(), name);
                assertEquals(text, all.toString(), name);
            }
        }
    }

    @Test
    void holdsAnEmojiUntilItsLastByte() {
        StreamingDecoder d = new ByteTokenizer().streamingDecoder();
        assertEquals("", d.accept(0xF0));
        assertEquals("", d.accept(0x9F));
        assertEquals("", d.accept(0x98));
        assertTrue(d.hasPending());
        assertEquals("\uD83D\uDE00", d.accept(0x80));
        assertEquals("!", d.accept('!'));
    }

    @Test
    void arbitraryBytesDecodeAsTheWholeSequenceDoes() {
        SplittableRandom rnd = new SplittableRandom(5);
        Tokenizer t = new ByteTokenizer();
        for (int trial = 0; trial < 300; trial++) {
            byte[] bytes = new byte[rnd.nextInt(0, 24)];
            int[] ids = new int[bytes.length];
            for (int i = 0; i < bytes.length; i++) {
                // biased to the bytes that start and continue multi-byte characters
                int b = rnd.nextBoolean() ? rnd.nextInt(0x80, 0x100) : rnd.nextInt(0, 0x100);
                bytes[i] = (byte) b;
                ids[i] = b;
            }
            StreamingDecoder d = t.streamingDecoder();
            StringBuilder all = new StringBuilder();
            for (int id : ids) {
                all.append(d.accept(id));
            }
            all.append(d.finish());
            assertEquals(new String(bytes, StandardCharsets.UTF_8), all.toString(), java.util.Arrays.toString(ids));
            assertEquals(t.decode(ids), all.toString());
        }
    }

    @Test
    void finishFlushesACutCharacterAndStartsAgain() {
        StreamingDecoder d = new ByteTokenizer().streamingDecoder();
        assertEquals("a", d.accept('a'));
        assertEquals("", d.accept(0xE2));
        assertEquals("\uFFFD", d.finish());
        assertFalse(d.hasPending());
        assertEquals("b", d.accept('b'));
    }
}
