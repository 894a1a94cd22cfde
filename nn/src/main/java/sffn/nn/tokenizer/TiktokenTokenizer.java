package sffn.nn.tokenizer;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingRegistry;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * OpenAI's byte-pair encodings through jtokkit: GPT-2's r50k_base ({@code gpt2}: ids 0..50255
 * ordinary, 50256 {@code <|endoftext|>}) and cl100k_base ({@code cl100k}: ids 0..100255 ordinary,
 * 100257 {@code <|endoftext|>}, 100258..100260 and 100276 other specials, the ids between them
 * unassigned). Text is encoded with {@code encodeOrdinary}, so a document that happens to contain
 * the spelling {@code <|endoftext|>} cannot inject a separator.
 */
public final class TiktokenTokenizer implements Tokenizer {
    private static final EncodingRegistry REGISTRY = Encodings.newLazyEncodingRegistry();
    private static final byte[] REPLACEMENT = "\uFFFD".getBytes(StandardCharsets.UTF_8);

    private final String name;
    private final Encoding encoding;
    private final int vocabSize;
    private final int endOfText;

    private TiktokenTokenizer(String name, EncodingType type, int vocabSize, int endOfText) {
        this.name = name;
        this.encoding = REGISTRY.getEncoding(type);
        this.vocabSize = vocabSize;
        this.endOfText = endOfText;
    }

    /** GPT-2's tokenizer (r50k_base): vocabulary 50257, end of text 50256. */
    public static TiktokenTokenizer gpt2() {
        return new TiktokenTokenizer("gpt2", EncodingType.R50K_BASE, 50257, 50256);
    }

    /** GPT-4's tokenizer (cl100k_base): vocabulary 100277, end of text 100257. */
    public static TiktokenTokenizer cl100k() {
        return new TiktokenTokenizer("cl100k", EncodingType.CL100K_BASE, 100277, 100257);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public int[] encode(String text) {
        return encoding.encodeOrdinary(text).toArray();
    }

    @Override
    public String decode(int[] tokens) {
        IntArrayList list = new IntArrayList(tokens.length);
        for (int t : tokens) {
            Tokenizer.checkToken(this, t);
            list.add(t);
        }
        byte[] bytes;
        try {
            bytes = encoding.decodeBytes(list);
        } catch (IllegalArgumentException | NullPointerException unassignedId) {
            // jtokkit 1.1.0 throws one or the other for an id it has no bytes for
            ByteArrayOutputStream out = new ByteArrayOutputStream(tokens.length * 4);
            for (int t : tokens) {
                out.writeBytes(tokenBytes(t));
            }
            bytes = out.toByteArray();
        }
        return new String(bytes, StandardCharsets.UTF_8);
    }

    @Override
    public byte[] tokenBytes(int token) {
        Tokenizer.checkToken(this, token);
        IntArrayList one = new IntArrayList(1);
        one.add(token);
        try {
            return encoding.decodeBytes(one);
        } catch (IllegalArgumentException | NullPointerException unassignedId) {
            // jtokkit 1.1.0 throws one or the other for an id it has no bytes for
            return REPLACEMENT.clone();
        }
    }

    @Override
    public int endOfText() {
        return endOfText;
    }

    @Override
    public String toString() {
        return name;
    }
}
