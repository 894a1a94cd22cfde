package sffn.nn.tokenizer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TokenizersTest {
    @Test
    void knowsEachNameItLists() {
        for (String name : Tokenizers.NAMES) {
            assertEquals(name, Tokenizers.byName(name).name());
        }
    }

    @Test
    void unknownNameListsTheKnownOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tokenizers.byName("llama"));
        assertEquals("unknown tokenizer 'llama'; known tokenizers: byte, gpt2, cl100k", e.getMessage());
    }

    @Test
    void resolvesAHuggingFaceFileByPathAndNamesItByItsContent(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("tokenizer.json");
        Files.writeString(file, """
                {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}
                """);
        Tokenizer t = Tokenizers.resolve(file.toString(), note -> { });
        assertTrue(t.name().matches("hf-[0-9a-f]{12}"), t.name());
        assertEquals(3, t.vocabSize());
        org.junit.jupiter.api.Assertions.assertArrayEquals(new int[] {2, 0}, t.encode("aba"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tokenizers.resolve(dir.resolve("none.json").toString(), note -> { }));
        assertEquals("tokenizer file " + dir.resolve("none.json") + " does not exist", e.getMessage());
    }
}
