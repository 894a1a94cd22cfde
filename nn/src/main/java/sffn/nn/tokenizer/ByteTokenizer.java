package sffn.nn.tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * One token per UTF-8 byte (vocabulary 256). It has no special tokens: prepared data separates
 * documents with a blank line instead of an end-of-text token.
 */
public final class ByteTokenizer implements Tokenizer {
    public static final String NAME = "byte";
    public static final int VOCAB_SIZE = 256;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int vocabSize() {
        return VOCAB_SIZE;
    }

    @Override
    public int[] encode(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int[] tokens = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            tokens[i] = bytes[i] & 0xFF;
        }
        return tokens;
    }

    @Override
    public String decode(int[] tokens) {
        byte[] bytes = new byte[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            Tokenizer.checkToken(this, tokens[i]);
            bytes[i] = (byte) tokens[i];
        }
        return new String(bytes, StandardCharsets.UTF_8);
    }

    @Override
    public byte[] tokenBytes(int token) {
        Tokenizer.checkToken(this, token);
        return new byte[] {(byte) token};
    }

    @Override
    public int endOfText() {
        return -1;
    }

    @Override
    public String toString() {
        return NAME;
    }
}
