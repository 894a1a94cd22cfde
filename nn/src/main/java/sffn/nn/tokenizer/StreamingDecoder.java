package sffn.nn.tokenizer;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Decodes tokens as they arrive (e.g. while sampling) and hands back only whole characters: bytes of
 * a multi-byte UTF-8 character that a token leaves unfinished are held until the token that finishes
 * it arrives, so a character (and a surrogate pair) is never split across two returned strings.
 * Invalid bytes become U+FFFD, as in {@link Tokenizer#decode}; concatenating every return of
 * {@link #accept} and then {@link #finish} gives the same text as decoding all tokens at once.
 * Not thread-safe; one instance per stream.
 */
public final class StreamingDecoder {
    private final Tokenizer tokenizer;
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPLACE)
            .onUnmappableCharacter(CodingErrorAction.REPLACE);
    /** Bytes received and not yet decoded (at most an unfinished character between calls); in read mode. */
    private ByteBuffer pending = ByteBuffer.allocate(64).flip();
    private CharBuffer chars = CharBuffer.allocate(64);

    public StreamingDecoder(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Takes one token and returns the text it completes (possibly empty, never null). */
    public String accept(int token) {
        append(tokenizer.tokenBytes(token));
        return drain(false);
    }

    /** Returns what is still held (an unfinished character becomes U+FFFD) and starts a new stream. */
    public String finish() {
        String rest = drain(true);
        utf8.reset();
        pending.clear().flip();
        return rest;
    }

    /** True while bytes of an unfinished character are held. */
    public boolean hasPending() {
        return pending.hasRemaining();
    }

    private void append(byte[] bytes) {
        if (pending.capacity() - pending.remaining() < bytes.length) {
            ByteBuffer grown = ByteBuffer.allocate(Math.max(2 * pending.capacity(), pending.remaining() + bytes.length));
            grown.put(pending).flip();
            pending = grown;
        }
        pending.compact();
        pending.put(bytes).flip();
    }

    private String drain(boolean endOfInput) {
        chars.clear();
        while (true) {
            CoderResult r = utf8.decode(pending, chars, endOfInput);
            if (r.isOverflow()) {
                growChars();
                continue;
            }
            if (endOfInput) {
                while (utf8.flush(chars).isOverflow()) {
                    growChars();
                }
            }
            break;
        }
        return chars.flip().toString();
    }

    private void growChars() {
        CharBuffer grown = CharBuffer.allocate(2 * chars.capacity());
        grown.put(chars.flip());
        chars = grown;
    }
}
