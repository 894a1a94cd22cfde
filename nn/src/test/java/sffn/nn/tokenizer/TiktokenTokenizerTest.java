package sffn.nn.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

class TiktokenTokenizerTest {
    private final Tokenizer gpt2 = Tokenizers.byName("gpt2");
    private final Tokenizer cl100k = Tokenizers.byName("cl100k");

    @Test
    void knownIdsMatchTiktoken() {
        // ids as OpenAI's tiktoken gives them
        assertArrayEquals(new int[] {15496, 995}, gpt2.encode("Hello world"));
        assertArrayEquals(new int[] {9906, 1917}, cl100k.encode("Hello world"));
        assertArrayEquals(new int[] {15339, 1917}, cl100k.encode("hello world"));
        assertArrayEquals(new int[] {464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13},
                gpt2.encode("The quick brown fox jumps over the lazy dog."));
    }

    @Test
    void vocabularyAndEndOfText() {
        assertEquals(50257, gpt2.vocabSize());
        assertEquals(50256, gpt2.endOfText());
        assertEquals(100277, cl100k.vocabSize());
        assertEquals(100257, cl100k.endOfText());
        assertEquals("<|endoftext|>", gpt2.decode(new int[] {50256}));
        assertEquals("<|endoftext|>", cl100k.decode(new int[] {100257}));
    }

    @Test
    void specialTokenSpellingInTextIsOrdinaryText() {
        int[] ids = gpt2.encode("a<|endoftext|>b");
        for (int id : ids) {
            assertFalse(id == 50256, "the spelling must not become the separator token");
        }
        assertEquals("a<|endoftext|>b", gpt2.decode(ids));
    }

    @Test
    void roundTripsArbitraryUnicode() {
        SplittableRandom rnd = new SplittableRandom(11);
        for (Tokenizer t : new Tokenizer[] {gpt2, cl100k}) {
            for (int trial = 0; trial < 100; trial++) {
                String s = ByteTokenizerTest.randomUnicode(rnd, rnd.nextInt(0, 40));
                assertEquals(s, t.decode(t.encode(s)), t.name());
            }
            String text = "Gr\u00FC\u00DFe \uD83D\uDE00\uD83D\uDC4D from \u6771\u4EAC,\n\n  indented\ttabs";
            assertEquals(text, t.decode(t.encode(text)), t.name());
        }
    }

    @Test
    void unassignedIdsInsideTheVocabularyDecodeToReplacement() {
        // cl100k_base leaves 100256 and 100261..100275 unassigned
        assertEquals("a\uFFFDb", cl100k.decode(new int[] {64, 100256, 65}));
        assertEquals("\uFFFD", new String(cl100k.tokenBytes(100270), java.nio.charset.StandardCharsets.UTF_8));
    }

    @Test
    void idsOutsideTheVocabularyAreRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> gpt2.decode(new int[] {50257}));
        assertEquals("token id 50257 is outside the gpt2 vocabulary (ids 0..50256)", e.getMessage());
    }
}
