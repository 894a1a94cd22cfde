package sffn.nn.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The BPE pipeline on small hand-made tokenizer.json files whose tokens can be worked out by hand. */
class HuggingFaceTokenizerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SP = "\u2581";
    /** Ids 0-2 special, 3-258 the byte tokens, then these. */
    private static final List<String> PIECES = List.of(SP, "a", "b", "c", SP + "a", "ab", "bc", SP + "ab", "aa", SP + SP);

    private static int id(String piece) {
        return 259 + PIECES.indexOf(piece);
    }

    private static int byteId(int b) {
        return 3 + b;
    }

    /** Llama's layout: prepend ▁, spaces to ▁, no pre-tokenizer, byte fallback, decoder stripping one space. */
    private static ObjectNode llamaLike(String... merges) throws Exception {
        ObjectNode root = (ObjectNode) JSON.readTree("""
                {"added_tokens": [{"id": 0, "content": "<unk>", "special": true}, {"id": 1, "content": "<s>", "special": true},
                                  {"id": 2, "content": "</s>", "special": true}],
                 "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                                {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
                 "pre_tokenizer": null,
                 "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                    {"Sequence": {"id": "A", "type_id": 0}}],
                                    "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
                 "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                             {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
                 "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true}}
                """);
        ObjectNode vocab = JSON.createObjectNode();
        vocab.put("<unk>", 0).put("<s>", 1).put("</s>", 2);
        for (int b = 0; b < 256; b++) {
            vocab.put(String.format("<0x%02X>", b), byteId(b));
        }
        for (String p : PIECES) {
            vocab.put(p, id(p));
        }
        ObjectNode model = (ObjectNode) root.get("model");
        model.set("vocab", vocab);
        ArrayNode m = model.putArray("merges");
        for (String merge : merges) {
            m.add(merge);
        }
        return root;
    }

    private static HuggingFaceTokenizer tokenizer(JsonNode root) {
        return HuggingFaceTokenizer.of("test", root, "test.json");
    }

    @Test
    void mergesTheLowestRankFirst() throws Exception {
        HuggingFaceTokenizer abFirst = tokenizer(llamaLike("a b", "b c", SP + " a", SP + " ab"));
        // "▁abc": (a,b) has rank 0, then (▁,ab) rank 3; (ab,c) has no merge
        assertArrayEquals(new int[] {id(SP + "ab"), id("c")}, abFirst.encode("abc"));
        HuggingFaceTokenizer bcFirst = tokenizer(llamaLike("b c", "a b", SP + " a", SP + " ab"));
        // (b,c) first leaves ▁ a bc; then (▁,a)
        assertArrayEquals(new int[] {id(SP + "a"), id("bc")}, bcFirst.encode("abc"));
    }

    @Test
    void mergesTheLeftmostOfEqualPairs() throws Exception {
        HuggingFaceTokenizer t = tokenizer(llamaLike("a a", SP + " " + SP));
        assertArrayEquals(new int[] {id(SP), id("aa"), id("a")}, t.encode("aaa"));
        // "▁▁▁" (prefix and two spaces): the leftmost pair merges, the third ▁ stays alone
        assertArrayEquals(new int[] {id(SP + SP), id(SP), id("a")}, t.encode("  a"));
    }

    @Test
    void fallsBackToUtf8BytesForCharactersOutsideTheVocabulary() throws Exception {
        HuggingFaceTokenizer t = tokenizer(llamaLike("a b", SP + " ab"));
        // é is C3 A9; 🤖 is F0 9F A4 96
        assertArrayEquals(new int[] {id(SP + "ab"), id(SP), byteId(0xC3), byteId(0xA9), byteId(0xF0), byteId(0x9F),
                byteId(0xA4), byteId(0x96)}, t.encode("ab é\uD83E\uDD16"));
        assertEquals("ab é\uD83E\uDD16", t.decode(t.encode("ab é\uD83E\uDD16")));
    }

    @Test
    void decodeStripsTheLeadingSpaceButAStreamKeepsIt() throws Exception {
        HuggingFaceTokenizer t = tokenizer(llamaLike("a b", SP + " ab"));
        int[] ids = t.encode("ab ab");
        assertEquals("ab ab", t.decode(ids));
        StreamingDecoder d = t.streamingDecoder();
        StringBuilder s = new StringBuilder();
        for (int id : ids) {
            s.append(d.accept(id));
        }
        assertEquals(" ab ab", s.append(d.finish()).toString());
    }

    @Test
    void streamingHoldsByteFallbackTokensUntilTheCharacterIsWhole() throws Exception {
        HuggingFaceTokenizer t = tokenizer(llamaLike());
        StreamingDecoder d = t.streamingDecoder();
        assertEquals("", d.accept(byteId(0xF0)));
        assertEquals("", d.accept(byteId(0x9F)));
        assertEquals("", d.accept(byteId(0xA4)));
        assertTrue(d.hasPending());
        assertEquals("\uD83E\uDD16", d.accept(byteId(0x96)));
        assertFalse(d.hasPending());
    }

    @Test
    void aContinuationGetsNoPrefix() throws Exception {
        HuggingFaceTokenizer t = tokenizer(llamaLike("a b", SP + " ab"));
        assertArrayEquals(new int[] {id(SP + "ab")}, t.encode("ab"));
        assertArrayEquals(new int[] {id("ab")}, t.encodeContinuation("ab"));
        assertTrue(t.cutsAfterNewline());
    }

    @Test
    void specialTokensAndTheDocumentSeparator() throws Exception {
        HuggingFaceTokenizer t = tokenizer(llamaLike());
        assertEquals(259 + PIECES.size(), t.vocabSize());
        assertEquals(1, t.endOfText());
        assertEquals("<s>", new String(t.tokenBytes(1), java.nio.charset.StandardCharsets.UTF_8));
        assertArrayEquals(new byte[] {(byte) 0xC3}, t.tokenBytes(byteId(0xC3)));
    }

    @Test
    void byteLevelBpe() throws Exception {
        // GPT-2's layout: ByteLevel pre-tokenizer (regex split, bytes as printable characters) and decoder
        ObjectNode root = (ObjectNode) JSON.readTree("""
                {"added_tokens": [{"id": 7, "content": "<|endoftext|>", "special": true}],
                 "normalizer": null, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
                 "decoder": {"type": "ByteLevel"},
                 "model": {"type": "BPE", "vocab": {"h": 0, "i": 1, "Ġ": 2, "Ġh": 3, "hi": 4, "Ġhi": 5, "!": 6},
                           "merges": [["h", "i"], ["Ġ", "hi"]]}}
                """);
        HuggingFaceTokenizer t = tokenizer(root);
        assertArrayEquals(new int[] {4, 5, 6}, t.encode("hi hi!"));
        assertEquals("hi hi!", t.decode(new int[] {4, 5, 6}));
        assertEquals(7, t.endOfText());
        assertEquals(8, t.vocabSize());
    }

    @Test
    void refusesWhatItDoesNotImplement() throws Exception {
        ObjectNode wordPiece = llamaLike();
        ((ObjectNode) wordPiece.get("model")).put("type", "WordPiece");
        assertEquals("test.json: model type WordPiece is not supported; only BPE models are",
                assertThrows(IllegalArgumentException.class, () -> tokenizer(wordPiece)).getMessage());
        ObjectNode ctc = llamaLike();
        ctc.set("decoder", JSON.readTree("{\"type\": \"CTC\"}"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> tokenizer(ctc)).getMessage()
                .startsWith("test.json: decoder type 'CTC' is not supported"));
        ObjectNode badMerge = llamaLike("a z");
        assertEquals("test.json: merge 1 ('a' 'z') names a token that is not in the vocabulary: 'z'",
                assertThrows(IllegalArgumentException.class, () -> tokenizer(badMerge)).getMessage());
    }

    @Test
    void isRecordedWithItsDefinition(@TempDir Path dir) throws Exception {
        HuggingFaceTokenizer t = tokenizer(llamaLike("a b", SP + " ab"));
        Path file = dir.resolve(TokenizerInfo.FILE_NAME);
        TokenizerInfo.of(t).write(file);
        TokenizerInfo back = TokenizerInfo.read(file);
        assertEquals(TokenizerInfo.of(t), back);
        assertArrayEquals(t.encode("ab abc é"), back.tokenizer().encode("ab abc é"));
        assertEquals("test", back.tokenizer().name());
    }
}
