package sffn.nn.tokenizer;

import java.util.List;

/** The tokenizers this runtime knows, by the names used on the command line and in {@code tokenizer.json}. */
public final class Tokenizers {
    /** Known names, in the order error messages list them. */
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
}
