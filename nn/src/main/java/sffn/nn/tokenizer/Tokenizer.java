package sffn.nn.tokenizer;

/**
 * Text to token ids and back. Implementations are immutable and safe to share between threads
 * (a {@link StreamingDecoder} is not: make one per stream).
 */
public interface Tokenizer {

    /** The name {@link Tokenizers#byName} knows this tokenizer by, e.g. {@code "gpt2"}. */
    String name();

    /** Number of token ids, {@code 0 .. vocabSize()-1}; some ids inside the range may be unassigned. */
    int vocabSize();

    /** Encodes ordinary text: special-token spellings such as {@code <|endoftext|>} are encoded as plain text. */
    int[] encode(String text);

    /**
     * Encodes text that continues a text whose earlier part was encoded apart (see
     * {@link #cutsAfterNewline}): without what only the start of a text gets, such as the
     * {@code "▁"} that Llama's normalizer puts in front.
     */
    default int[] encodeContinuation(String text) {
        return encode(text);
    }

    /**
     * Whether a text cut just after a {@code '\n'} that has printable ASCII on either side encodes to
     * the same tokens as the whole, when the part before it is encoded with {@link #encode} (or
     * {@link #encodeContinuation}) and the part after with {@link #encodeContinuation}.
     */
    default boolean cutsAfterNewline() {
        return true;
    }

    /**
     * Decodes tokens to text. Byte sequences that are not valid UTF-8 (a multi-byte character cut
     * at the end, or ids that stand for partial characters) become U+FFFD; ids inside the vocabulary
     * that stand for nothing become U+FFFD too.
     *
     * @throws IllegalArgumentException for an id outside {@code 0 .. vocabSize()-1}
     */
    String decode(int[] tokens);

    /**
     * The UTF-8 bytes one token stands for (a fresh array; special tokens give their spelling,
     * unassigned ids the bytes of U+FFFD). One token may hold part of a multi-byte character.
     *
     * @throws IllegalArgumentException for an id outside {@code 0 .. vocabSize()-1}
     */
    byte[] tokenBytes(int token);

    /** The document separator token (GPT-2's {@code <|endoftext|>}), or -1 when this tokenizer has none. */
    int endOfText();

    default boolean hasEndOfText() {
        return endOfText() >= 0;
    }

    /** A decoder for text that arrives one token at a time. */
    default StreamingDecoder streamingDecoder() {
        return new StreamingDecoder(this);
    }

    /** Throws the error {@link #decode} and {@link #tokenBytes} promise for an id outside the vocabulary. */
    static void checkToken(Tokenizer tokenizer, int token) {
        if (token < 0 || token >= tokenizer.vocabSize()) {
            throw new IllegalArgumentException("token id " + token + " is outside the " + tokenizer.name()
                    + " vocabulary (ids 0.." + (tokenizer.vocabSize() - 1) + ")");
        }
    }
}
