package sffn.nn.tokenizer;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ByteTokenizerTest {
    private final ByteTokenizer tok = new ByteTokenizer();

    /** Random text over the whole code-point range, astral planes (emoji) included, no lone surrogates. */
    static String randomUnicode(SplittableRandom rnd, int codePoints) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < codePoints; i++) {
            int cp = switch (rnd.nextInt(4)) {
                case 0 -> rnd.nextInt(0x20, 0x7F);
                case 1 -> rnd.nextInt(0x1F300, 0x1FAFF);
                default -> rnd.nextInt(0x80, 0x110000);
            };
            if (cp >= 0xD800 && cp <= 0xDFFF) {
                cp = 'x';
            }
            sb.appendCodePoint(cp);
        }
        return sb.toString();
    }

    @Test
    void tokensAreTheUtf8Bytes() {
        assertArrayEquals(new int[] {'a', 0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80}, tok.encode("a\u00E9\uD83D\uDE00"));
        assertEquals(256, tok.vocabSize());
        assertEquals(-1, tok.endOfText());
        assertEquals("byte", tok.name());
    }

    @Test
    void roundTripsArbitraryUnicode() {
        SplittableRandom rnd = new SplittableRandom(7);
        for (int trial = 0; trial < 200; trial++) {
            String s = randomUnicode(rnd, rnd.nextInt(0, 60));
            assertEquals(s, tok.decode(tok.encode(s)));
        }
        String emoji = "family \uD83D\uDC68\u200D\uD83D\uDC69\u200D\uD83D\uDC67, flag \uD83C\uDDEF\uD83C\uDDF5, \u4E2D\u6587";
        assertEquals(emoji, tok.decode(tok.encode(emoji)));
    }

    @Test
    void invalidOrCutUtf8DecodesToReplacementCharacters() {
        // a 4-byte emoji cut after 2 bytes, then a lone continuation byte, then a valid 'z'
        int[] tokens = {'a', 0xF0, 0x9F, 0x80, 'z'};
        String s = tok.decode(tokens);
        assertTrue(s.startsWith("a") && s.endsWith("z"), s);
        assertTrue(s.contains("\uFFFD"), s);
        assertEquals(new String(new byte[] {'a', (byte) 0xF0, (byte) 0x9F, (byte) 0x80, 'z'}, StandardCharsets.UTF_8), s);
    }

    @Test
    void idsOutsideTheVocabularyAreRejectedByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {65, 256}));
        assertEquals("token id 256 is outside the byte vocabulary (ids 0..255)", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> tok.tokenBytes(-1));
    }
}
