package sffn.nn.tokenizer;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

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
}
