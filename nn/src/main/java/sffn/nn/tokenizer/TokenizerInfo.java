package sffn.nn.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * What a {@code tokenizer.json} records beside token shards and in checkpoints:
 * {@code {"name": "gpt2", "vocab_size": 50257, "eot": 50256}} ({@code "eot": null} when the
 * tokenizer has no end-of-text token). A tokenizer read from a Hugging Face {@code tokenizer.json}
 * carries that whole file in a field {@code "huggingface"}, so that the shards and every checkpoint
 * trained on them decode with it without the original file.
 *
 * @param name        a {@link Tokenizers} name, or the name a Hugging Face tokenizer was given
 * @param vocabSize   the tokenizer's vocabulary size (a model's may be larger, e.g. padded)
 * @param endOfText   the end-of-text (document separator) id, -1 for none
 * @param huggingFace the Hugging Face {@code tokenizer.json} it is built from, or null for a built-in one
 */
public record TokenizerInfo(String name, int vocabSize, int endOfText, JsonNode huggingFace) {
    public static final String FILE_NAME = "tokenizer.json";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public TokenizerInfo(String name, int vocabSize, int endOfText) {
        this(name, vocabSize, endOfText, null);
    }

    public TokenizerInfo {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("tokenizer name is empty");
        }
        if (vocabSize <= 0) {
            throw new IllegalArgumentException("vocab_size must be positive, got " + vocabSize);
        }
        if (endOfText < -1 || endOfText >= vocabSize) {
            throw new IllegalArgumentException("eot " + endOfText + " is outside the vocabulary 0.." + (vocabSize - 1));
        }
    }

    public static TokenizerInfo of(Tokenizer tokenizer) {
        return new TokenizerInfo(tokenizer.name(), tokenizer.vocabSize(), tokenizer.endOfText(),
                tokenizer instanceof HuggingFaceTokenizer hf ? hf.definition() : null);
    }

    /**
     * The tokenizer this describes.
     *
     * @throws IllegalArgumentException when the name is unknown or its vocabulary or end-of-text id
     *                                  differ from what the named tokenizer has
     */
    public Tokenizer tokenizer() {
        Tokenizer t = huggingFace != null ? HuggingFaceTokenizer.of(name, huggingFace, "tokenizer '" + name + "'")
                : Tokenizers.byName(name);
        if (t.vocabSize() != vocabSize || t.endOfText() != endOfText) {
            throw new IllegalArgumentException("tokenizer '" + name + "' is recorded with vocab_size " + vocabSize
                    + " and eot " + endOfText + ", but this runtime's '" + name + "' has vocab_size "
                    + t.vocabSize() + " and eot " + t.endOfText());
        }
        return t;
    }

    /** Writes {@code file} (through a temporary file and a rename, so it is never seen half-written). */
    public void write(Path file) throws IOException {
        ObjectNode node = JSON.createObjectNode();
        node.put("name", name);
        node.put("vocab_size", vocabSize);
        if (endOfText >= 0) {
            node.put("eot", endOfText);
        } else {
            node.putNull("eot");
        }
        if (huggingFace != null) {
            node.set("huggingface", huggingFace);
        }
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, JSON.writeValueAsString(node) + "\n");
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * Reads a {@code tokenizer.json}.
     *
     * @throws IllegalArgumentException naming {@code file} when it is missing, not JSON, or a field is
     *                                  missing or wrong
     */
    public static TokenizerInfo read(Path file) throws IOException {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("tokenizer description " + file + " does not exist");
        }
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + " is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(file + " must hold a JSON object like "
                    + "{\"name\": \"gpt2\", \"vocab_size\": 50257, \"eot\": 50256}");
        }
        JsonNode name = root.get("name");
        if (name == null || !name.isTextual() || name.asText().isBlank()) {
            throw new IllegalArgumentException(file + ": field \"name\" must be a tokenizer name (one of "
                    + String.join(", ", Tokenizers.NAMES) + ")");
        }
        JsonNode vocab = root.get("vocab_size");
        if (vocab == null || !vocab.canConvertToInt() || !vocab.isIntegralNumber() || vocab.intValue() <= 0) {
            throw new IllegalArgumentException(file + ": field \"vocab_size\" must be a positive integer, found "
                    + (vocab == null ? "nothing" : vocab.toString()));
        }
        JsonNode eot = root.get("eot");
        int eotId;
        if (eot == null || eot.isNull()) {
            eotId = -1;
        } else if (eot.isIntegralNumber() && eot.canConvertToInt()
                && eot.intValue() >= -1 && eot.intValue() < vocab.intValue()) {
            eotId = eot.intValue();
        } else {
            throw new IllegalArgumentException(file + ": field \"eot\" must be null or a token id below vocab_size "
                    + vocab.intValue() + ", found " + eot);
        }
        JsonNode hf = root.get("huggingface");
        if (hf != null && !hf.isObject()) {
            throw new IllegalArgumentException(file + ": field \"huggingface\" must be the object of a Hugging Face"
                    + " tokenizer.json, found " + hf.getNodeType());
        }
        return new TokenizerInfo(name.asText(), vocab.intValue(), eotId, hf);
    }
}
