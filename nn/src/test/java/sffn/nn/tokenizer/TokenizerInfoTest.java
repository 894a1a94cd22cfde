package sffn.nn.tokenizer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TokenizerInfoTest {
    @TempDir
    Path dir;

    @Test
    void writesAndReadsBack() throws Exception {
        for (String name : Tokenizers.NAMES) {
            Tokenizer t = Tokenizers.byName(name);
            Path file = dir.resolve(name + ".json");
            TokenizerInfo.of(t).write(file);
            TokenizerInfo back = TokenizerInfo.read(file);
            assertEquals(TokenizerInfo.of(t), back);
            assertEquals(name, back.tokenizer().name());
        }
        String json = Files.readString(dir.resolve("gpt2.json"));
        assertTrue(json.contains("\"vocab_size\" : 50257") && json.contains("\"eot\" : 50256"), json);
        assertTrue(Files.readString(dir.resolve("byte.json")).contains("\"eot\" : null"));
    }

    private String errorFor(String content) throws Exception {
        Path file = dir.resolve(TokenizerInfo.FILE_NAME);
        Files.writeString(file, content);
        return assertThrows(IllegalArgumentException.class, () -> TokenizerInfo.read(file)).getMessage();
    }

    @Test
    void errorsNameTheFileAndTheField() throws Exception {
        Path file = dir.resolve(TokenizerInfo.FILE_NAME);
        assertEquals(file + ": field \"vocab_size\" must be a positive integer, found nothing",
                errorFor("{\"name\": \"gpt2\"}"));
        assertEquals(file + ": field \"vocab_size\" must be a positive integer, found \"big\"",
                errorFor("{\"name\": \"gpt2\", \"vocab_size\": \"big\"}"));
        assertTrue(errorFor("{\"vocab_size\": 3}").startsWith(file + ": field \"name\""));
        assertEquals(file + ": field \"eot\" must be null or a token id below vocab_size 256, found 256",
                errorFor("{\"name\": \"byte\", \"vocab_size\": 256, \"eot\": 256}"));
        assertTrue(errorFor("{\"name\": ").startsWith(file + " is not valid JSON"));
        assertTrue(errorFor("[1]").startsWith(file + " must hold a JSON object"));
        assertEquals("tokenizer description " + dir.resolve("none.json") + " does not exist",
                assertThrows(IllegalArgumentException.class, () -> TokenizerInfo.read(dir.resolve("none.json"))).getMessage());
    }

    @Test
    void recordedVocabularyMustMatchTheRuntimeTokenizer() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new TokenizerInfo("gpt2", 50304, 50256).tokenizer());
        assertEquals("tokenizer 'gpt2' is recorded with vocab_size 50304 and eot 50256, but this runtime's 'gpt2'"
                + " has vocab_size 50257 and eot 50256", e.getMessage());
    }
}
