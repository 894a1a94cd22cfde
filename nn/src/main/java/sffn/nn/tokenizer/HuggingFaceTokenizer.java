package sffn.nn.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A BPE tokenizer read from a Hugging Face {@code tokenizer.json}: the byte-fallback BPE of
 * Llama/Mistral (normalizer "prepend ▁, spaces to ▁", no pre-tokenizer or Metaspace, decoder
 * "▁ to space, byte fallback, fuse, strip one leading space") and the byte-level BPE of GPT-2-like
 * models (ByteLevel or regex Split pre-tokenizers, ByteLevel decoder). Components outside that set
 * are refused with an error naming them, rather than encoded differently from the library.
 *
 * <p>As everywhere in this runtime, {@link #encode} takes ordinary text: spellings of special tokens
 * such as {@code <s>} are encoded as text, and no post-processor adds BOS/EOS tokens (documents are
 * separated by {@link #endOfText()} where training data is prepared). {@link #decode} applies the
 * decoder's leading-space strip; {@link #tokenBytes} and the streaming decoder do not, so that a
 * continuation streamed after a prompt keeps its first space.
 */
public final class HuggingFaceTokenizer implements Tokenizer {
    private static final byte[] REPLACEMENT = "\uFFFD".getBytes(StandardCharsets.UTF_8);
    private static final Pattern BYTE_TOKEN = Pattern.compile("<0x([0-9A-Fa-f]{2})>");
    /** GPT-2's pre-tokenizer pattern, as the ByteLevel pre-tokenizer uses it. */
    private static final Pattern GPT2_SPLIT = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");

    private final String name;
    private final int vocabSize;
    private final int endOfText;
    private final BpeModel bpe;
    private final List<Normalizer> normalizers;
    private final List<PreTokenizer> preTokenizers;
    private final boolean cutsAfterNewline;
    private final byte[][] tokenBytes;
    private final int stripLeadingSpaces;
    private final JsonNode definition;

    /** One step of normalization; {@code startOnly} steps (Prepend) apply only at the start of a text. */
    private record Normalizer(UnaryOperator<String> op, boolean startOnly) {
    }

    /** Splits text into words (several pre-tokenizers are applied in turn to each word). */
    private interface PreTokenizer {
        void split(String text, List<String> words, boolean atStart);
    }

    private HuggingFaceTokenizer(String name, int vocabSize, int endOfText, BpeModel bpe,
                                 List<Normalizer> normalizers, List<PreTokenizer> preTokenizers, boolean cutsAfterNewline,
                                 byte[][] tokenBytes, int stripLeadingSpaces, JsonNode definition) {
        this.name = name;
        this.vocabSize = vocabSize;
        this.endOfText = endOfText;
        this.bpe = bpe;
        this.normalizers = normalizers;
        this.preTokenizers = preTokenizers;
        this.cutsAfterNewline = cutsAfterNewline;
        this.tokenBytes = tokenBytes;
        this.stripLeadingSpaces = stripLeadingSpaces;
        this.definition = definition;
    }

    /**
     * Reads a {@code tokenizer.json} file.
     *
     * @throws IllegalArgumentException naming the file when it is missing, not JSON or not supported
     */
    public static HuggingFaceTokenizer read(Path file, String name) throws IOException {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (NoSuchFileException | FileNotFoundException e) {
            throw new IllegalArgumentException("tokenizer file " + file + " does not exist");
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + " is not valid JSON: " + e.getOriginalMessage());
        }
        return of(name, root, file.toString());
    }

    /** The {@code tokenizer.json} this was built from (recorded with shards and checkpoints); do not modify it. */
    public JsonNode definition() {
        return definition;
    }

    /**
     * Builds the tokenizer a {@code tokenizer.json} describes.
     *
     * @param name   the name it is known by (recorded with token shards and checkpoints)
     * @param root   the parsed {@code tokenizer.json}
     * @param source where it came from, for error messages
     * @throws IllegalArgumentException naming {@code source} and the field when the file is not a BPE
     *                                  tokenizer or uses a component this implementation does not have
     */
    public static HuggingFaceTokenizer of(String name, JsonNode root, String source) {
        try {
            return build(name, root);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(source + ": " + e.getMessage(), e);
        }
    }

    private static HuggingFaceTokenizer build(String name, JsonNode root) {
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("not a Hugging Face tokenizer.json (no JSON object)");
        }
        JsonNode model = root.path("model");
        if (!model.isObject() || !model.path("vocab").isObject()) {
            throw new IllegalArgumentException("not a Hugging Face tokenizer.json (no \"model\" with a \"vocab\")");
        }
        String type = model.path("type").asText("BPE");
        if (!type.equals("BPE")) {
            throw new IllegalArgumentException("model type " + type + " is not supported; only BPE models are");
        }
        for (String field : List.of("continuing_subword_prefix", "end_of_word_suffix")) {
            if (model.hasNonNull(field) && !model.get(field).asText().isEmpty()) {
                throw new IllegalArgumentException("model." + field + " is not supported");
            }
        }
        if (model.hasNonNull("dropout") && model.get("dropout").asDouble() > 0) {
            throw new IllegalArgumentException("model.dropout " + model.get("dropout") + " would make encoding random;"
                    + " set it to null");
        }
        if (model.path("ignore_merges").asBoolean(false)) {
            throw new IllegalArgumentException("model.ignore_merges is not supported");
        }
        Map<String, Integer> vocab = new HashMap<>();
        int maxId = -1;
        for (var it = model.get("vocab").fields(); it.hasNext(); ) {
            var e = it.next();
            int id = e.getValue().asInt(-1);
            if (id < 0) {
                throw new IllegalArgumentException("model.vocab: token '" + e.getKey() + "' has id " + e.getValue());
            }
            vocab.put(e.getKey(), id);
            maxId = Math.max(maxId, id);
        }
        Map<Integer, String> special = new HashMap<>();
        for (JsonNode t : root.path("added_tokens")) {
            int id = t.path("id").asInt(-1);
            String content = t.path("content").asText(null);
            if (id < 0 || content == null) {
                throw new IllegalArgumentException("added_tokens: entry " + t + " needs an id and a content");
            }
            special.put(id, content);
            maxId = Math.max(maxId, id);
        }
        String[][] merges = merges(model.path("merges"));
        String unkToken = model.path("unk_token").asText(null);
        int unk = unkToken == null ? -1 : vocab.getOrDefault(unkToken, -1);
        BpeModel bpe = new BpeModel(vocab, merges, unk, model.path("fuse_unk").asBoolean(false),
                model.path("byte_fallback").asBoolean(false));

        List<Normalizer> normalizers = new ArrayList<>();
        normalizers(root.path("normalizer"), normalizers);
        List<PreTokenizer> preTokenizers = new ArrayList<>();
        boolean[] byteLevelWords = new boolean[1];
        preTokenizers(root.path("pre_tokenizer"), preTokenizers, byteLevelWords);
        // the character the BPE sees for '\n'; when no merge joins it to printable ASCII, texts may be cut after it
        int newline = byteLevelWords[0] ? ByteLevel.encode("\n").charAt(0) : '\n';
        boolean cuts = true;
        for (char c = 0x21; c <= 0x7E; c++) {
            int mapped = byteLevelWords[0] ? ByteLevel.encode(String.valueOf(c)).charAt(0) : c;
            cuts &= !bpe.joins(newline, mapped) && !bpe.joins(mapped, newline);
        }

        int vocabSize = maxId + 1;
        String[] strings = new String[vocabSize];
        vocab.forEach((s, id) -> strings[id] = s);
        List<UnaryOperator<String>> pieceDecoders = new ArrayList<>();
        boolean[] byteFallback = new boolean[1];
        boolean[] byteLevel = new boolean[1];
        int strip = decoders(root.path("decoder"), pieceDecoders, byteFallback, byteLevel, new boolean[1]);
        byte[][] bytes = new byte[vocabSize][];
        for (int id = 0; id < vocabSize; id++) {
            if (special.containsKey(id)) {
                bytes[id] = special.get(id).getBytes(StandardCharsets.UTF_8);
            } else if (strings[id] == null) {
                bytes[id] = REPLACEMENT;
            } else {
                bytes[id] = pieceBytes(strings[id], pieceDecoders, byteFallback[0], byteLevel[0]);
            }
        }
        return new HuggingFaceTokenizer(name, vocabSize, separator(root, vocab, special), bpe,
                List.copyOf(normalizers), List.copyOf(preTokenizers), cuts, bytes, strip, root);
    }

    private static String[][] merges(JsonNode node) {
        if (!node.isArray()) {
            throw new IllegalArgumentException("model.merges must be a list");
        }
        String[][] merges = new String[node.size()][];
        for (int i = 0; i < merges.length; i++) {
            JsonNode m = node.get(i);
            if (m.isTextual()) {
                String s = m.asText();
                int sp = s.indexOf(' ');
                if (sp <= 0 || sp == s.length() - 1 || s.indexOf(' ', sp + 1) >= 0) {
                    throw new IllegalArgumentException("model.merges[" + i + "] '" + s + "' is not two tokens"
                            + " separated by one space");
                }
                merges[i] = new String[] {s.substring(0, sp), s.substring(sp + 1)};
            } else if (m.isArray() && m.size() == 2 && m.get(0).isTextual() && m.get(1).isTextual()) {
                merges[i] = new String[] {m.get(0).asText(), m.get(1).asText()};
            } else {
                throw new IllegalArgumentException("model.merges[" + i + "] " + m + " is not a pair of tokens");
            }
        }
        return merges;
    }

    /**
     * The token that separates documents: the post-processor's leading special token (Llama's
     * {@code <s>}), else {@code <|endoftext|>}, else -1.
     */
    private static int separator(JsonNode root, Map<String, Integer> vocab, Map<Integer, String> special) {
        JsonNode post = root.path("post_processor");
        if (post.path("type").asText("").equals("TemplateProcessing")) {
            JsonNode first = post.path("single").path(0).path("SpecialToken");
            if (first.isObject()) {
                JsonNode ids = post.path("special_tokens").path(first.path("id").asText()).path("ids");
                if (ids.size() == 1) {
                    return ids.get(0).asInt();
                }
            }
        }
        for (var e : special.entrySet()) {
            if (e.getValue().equals("<|endoftext|>")) {
                return e.getKey();
            }
        }
        return vocab.getOrDefault("<|endoftext|>", -1);
    }

    // ---- normalizers ----

    private static void normalizers(JsonNode n, List<Normalizer> out) {
        if (n.isMissingNode() || n.isNull()) {
            return;
        }
        String type = n.path("type").asText("");
        switch (type) {
            case "Sequence" -> n.path("normalizers").forEach(c -> normalizers(c, out));
            case "Prepend" -> {
                String p = n.path("prepend").asText();
                out.add(new Normalizer(s -> s.isEmpty() ? s : p + s, true));
            }
            case "Replace" -> out.add(new Normalizer(replace(n, "normalizer"), false));
            case "NFC" -> out.add(new Normalizer(s -> java.text.Normalizer.normalize(s, java.text.Normalizer.Form.NFC), false));
            case "NFD" -> out.add(new Normalizer(s -> java.text.Normalizer.normalize(s, java.text.Normalizer.Form.NFD), false));
            case "NFKC" -> out.add(new Normalizer(s -> java.text.Normalizer.normalize(s, java.text.Normalizer.Form.NFKC), false));
            case "NFKD" -> out.add(new Normalizer(s -> java.text.Normalizer.normalize(s, java.text.Normalizer.Form.NFKD), false));
            case "Lowercase" -> out.add(new Normalizer(s -> s.toLowerCase(Locale.ROOT), false));
            default -> throw new IllegalArgumentException("normalizer type '" + type + "' is not supported (supported:"
                    + " Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase)");
        }
    }

    private static UnaryOperator<String> replace(JsonNode n, String where) {
        String content = n.path("content").asText();
        JsonNode pattern = n.path("pattern");
        if (pattern.has("String")) {
            String from = pattern.get("String").asText();
            return s -> s.replace(from, content);
        }
        if (pattern.has("Regex")) {
            Pattern p = Pattern.compile(pattern.get("Regex").asText());
            String quoted = Matcher.quoteReplacement(content);
            return s -> p.matcher(s).replaceAll(quoted);
        }
        throw new IllegalArgumentException(where + " Replace: pattern " + pattern + " is neither String nor Regex");
    }

    // ---- pre-tokenizers ----

    private static void preTokenizers(JsonNode n, List<PreTokenizer> out, boolean[] byteLevel) {
        if (n.isMissingNode() || n.isNull()) {
            return;
        }
        String type = n.path("type").asText("");
        switch (type) {
            case "Sequence" -> n.path("pretokenizers").forEach(c -> preTokenizers(c, out, byteLevel));
            case "Metaspace" -> {
                String rep = n.path("replacement").asText("\u2581");
                String scheme = n.has("prepend_scheme") ? n.get("prepend_scheme").asText()
                        : n.path("add_prefix_space").asBoolean(true) ? "always" : "never";
                boolean prepend = !scheme.equals("never");
                boolean split = n.path("split").asBoolean(true);
                out.add((text, words, atStart) -> {
                    String s = text.replace(" ", rep);
                    if (prepend && atStart && !s.startsWith(rep)) {
                        s = rep + s;
                    }
                    if (!split) {
                        words.add(s);
                        return;
                    }
                    // each word starts at a replacement character (merged with what follows it)
                    int start = 0;
                    for (int i = s.indexOf(rep, 1); i >= 0; i = s.indexOf(rep, i + rep.length())) {
                        if (i > start) {
                            words.add(s.substring(start, i));
                            start = i;
                        }
                    }
                    if (start < s.length()) {
                        words.add(s.substring(start));
                    }
                });
            }
            case "ByteLevel" -> {
                boolean prefix = n.path("add_prefix_space").asBoolean(false);
                boolean regex = n.path("use_regex").asBoolean(true);
                byteLevel[0] = true;
                out.add((text, words, atStart) -> {
                    String s = prefix && atStart && !text.startsWith(" ") ? " " + text : text;
                    if (regex) {
                        Matcher m = GPT2_SPLIT.matcher(s);
                        while (m.find()) {
                            words.add(ByteLevel.encode(m.group()));
                        }
                    } else if (!s.isEmpty()) {
                        words.add(ByteLevel.encode(s));
                    }
                });
            }
            case "Split" -> {
                JsonNode pattern = n.path("pattern");
                Pattern p = pattern.has("Regex") ? Pattern.compile(pattern.get("Regex").asText())
                        : Pattern.compile(Pattern.quote(pattern.path("String").asText()));
                String behavior = n.path("behavior").asText();
                boolean invert = n.path("invert").asBoolean(false);
                boolean keepMatches = invert && behavior.equals("Removed");
                if (!keepMatches && !(behavior.equals("Isolated") && !invert)) {
                    throw new IllegalArgumentException("pre_tokenizer Split with behavior " + behavior + " and invert "
                            + invert + " is not supported (supported: Isolated, or Removed with invert)");
                }
                out.add((text, words, atStart) -> {
                    Matcher m = p.matcher(text);
                    int last = 0;
                    while (m.find()) {
                        if (!keepMatches && m.start() > last) {
                            words.add(text.substring(last, m.start()));
                        }
                        if (m.end() > m.start()) {
                            words.add(m.group());
                        }
                        last = m.end();
                    }
                    if (!keepMatches && last < text.length()) {
                        words.add(text.substring(last));
                    }
                });
            }
            default -> throw new IllegalArgumentException("pre_tokenizer type '" + type + "' is not supported (supported:"
                    + " Sequence, Metaspace, ByteLevel, Split)");
        }
    }

    // ---- decoders ----

    /**
     * Collects the per-token part of the decoder into {@code pieces} and returns how many leading
     * spaces the whole text loses (the Strip after Fuse of Llama's decoder, or Metaspace's prefix).
     */
    private static int decoders(JsonNode n, List<UnaryOperator<String>> pieces, boolean[] byteFallback,
                                boolean[] byteLevel, boolean[] fused) {
        if (n.isMissingNode() || n.isNull()) {
            return 0;
        }
        String type = n.path("type").asText("");
        switch (type) {
            case "Sequence" -> {
                int strip = 0;
                for (JsonNode c : n.path("decoders")) {
                    strip += decoders(c, pieces, byteFallback, byteLevel, fused);
                }
                return strip;
            }
            case "Replace" -> pieces.add(replace(n, "decoder"));
            case "ByteFallback" -> byteFallback[0] = true;
            case "ByteLevel" -> byteLevel[0] = true;
            case "Fuse" -> fused[0] = true;
            case "Strip" -> {
                if (!fused[0] || !n.path("content").asText().equals(" ") || n.path("stop").asInt(0) != 0) {
                    throw new IllegalArgumentException("decoder Strip is supported only after Fuse, stripping leading spaces;"
                            + " found " + n);
                }
                return n.path("start").asInt(0);
            }
            case "Metaspace" -> {
                String rep = n.path("replacement").asText("\u2581");
                pieces.add(s -> s.replace(rep, " "));
                String scheme = n.has("prepend_scheme") ? n.get("prepend_scheme").asText()
                        : n.path("add_prefix_space").asBoolean(true) ? "always" : "never";
                return scheme.equals("never") ? 0 : 1;
            }
            default -> throw new IllegalArgumentException("decoder type '" + type + "' is not supported (supported:"
                    + " Sequence, Replace, ByteFallback, ByteLevel, Fuse, Strip, Metaspace)");
        }
        return 0;
    }

    private static byte[] pieceBytes(String token, List<UnaryOperator<String>> decoders, boolean byteFallback,
                                     boolean byteLevel) {
        if (byteFallback) {
            Matcher m = BYTE_TOKEN.matcher(token);
            if (m.matches()) {
                return new byte[] {(byte) Integer.parseInt(m.group(1), 16)};
            }
        }
        String s = token;
        for (UnaryOperator<String> d : decoders) {
            s = d.apply(s);
        }
        return byteLevel ? ByteLevel.decode(s) : s.getBytes(StandardCharsets.UTF_8);
    }

    // ---- Tokenizer ----

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
        return encode(text, true);
    }

    /** Leaves out what only the start of a text gets (Prepend, Metaspace's and ByteLevel's prefix space). */
    @Override
    public int[] encodeContinuation(String text) {
        return encode(text, false);
    }

    @Override
    public boolean cutsAfterNewline() {
        return cutsAfterNewline;
    }

    private int[] encode(String text, boolean atStart) {
        String s = text;
        for (Normalizer n : normalizers) {
            if (atStart || !n.startOnly()) {
                s = n.op().apply(s);
            }
        }
        List<String> words = new ArrayList<>();
        words.add(s);
        for (PreTokenizer p : preTokenizers) {
            List<String> next = new ArrayList<>();
            for (int i = 0; i < words.size(); i++) {
                p.split(words.get(i), next, atStart && i == 0);
            }
            words = next;
        }
        IntList ids = new IntList(s.length() / 3 + 4);
        for (String w : words) {
            if (!w.isEmpty()) {
                bpe.encodeWord(w, ids);
            }
        }
        return ids.toArray();
    }

    @Override
    public String decode(int[] tokens) {
        StreamingDecoder d = streamingDecoder();
        StringBuilder sb = new StringBuilder();
        for (int t : tokens) {
            sb.append(d.accept(t));
        }
        sb.append(d.finish());
        int cut = 0;
        while (cut < stripLeadingSpaces && cut < sb.length() && sb.charAt(cut) == ' ') {
            cut++;
        }
        return sb.substring(cut);
    }

    @Override
    public byte[] tokenBytes(int token) {
        Tokenizer.checkToken(this, token);
        return tokenBytes[token].clone();
    }

    @Override
    public int endOfText() {
        return endOfText;
    }

    @Override
    public String toString() {
        return "HuggingFaceTokenizer[" + name + ", " + vocabSize + " tokens]";
    }

    /** GPT-2's reversible map from bytes to printable characters, which byte-level BPE vocabularies are written in. */
    static final class ByteLevel {
        private static final char[] BYTE_TO_CHAR = new char[256];
        private static final int[] CHAR_TO_BYTE = new int[512];

        static {
            Arrays.fill(CHAR_TO_BYTE, -1);
            int extra = 0;
            for (int b = 0; b < 256; b++) {
                boolean printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
                char c = printable ? (char) b : (char) (256 + extra++);
                BYTE_TO_CHAR[b] = c;
                CHAR_TO_BYTE[c] = b;
            }
        }

        private ByteLevel() {
        }

        static String encode(String text) {
            byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
            char[] cs = new char[utf8.length];
            for (int i = 0; i < utf8.length; i++) {
                cs[i] = BYTE_TO_CHAR[utf8[i] & 0xFF];
            }
            return new String(cs);
        }

        /** Characters outside the map (none in a byte-level vocabulary) keep their UTF-8 bytes. */
        static byte[] decode(String s) {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(s.length());
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                if (c < CHAR_TO_BYTE.length && CHAR_TO_BYTE[c] >= 0) {
                    out.write(CHAR_TO_BYTE[c]);
                } else {
                    out.writeBytes(String.valueOf(c).getBytes(StandardCharsets.UTF_8));
                }
            }
            return out.toByteArray();
        }
    }
}
