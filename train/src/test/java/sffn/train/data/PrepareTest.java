package sffn.train.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sffn.nn.tokenizer.Tokenizer;
import sffn.nn.tokenizer.TokenizerInfo;
import sffn.nn.tokenizer.Tokenizers;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PrepareTest {
    @TempDir
    Path tmp;

    private static final String[] WORDS = {"the", "jury", "said", "Friday", "an", "investigation", "of", "Atlanta's",
            "recent", "primary", "election", "produced", "no", "evidence", "1961", "--", "\"quoted\"", "caf\u00E9",
            "\uD83D\uDE00", "\u6771\u4EAC", "it's", "(yes)", ",", "."};

    /** Text with the shapes that matter at chunk cuts: newlines between printable characters, blank lines, indents. */
    static String text(SplittableRandom rnd, int words) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < words; i++) {
            sb.append(WORDS[rnd.nextInt(WORDS.length)]);
            int r = rnd.nextInt(20);
            sb.append(r == 0 ? "\n" : r == 1 ? "\n\n" : r == 2 ? "\n\t" : r == 3 ? " \n" : " ");
        }
        return sb.toString();
    }

    private Path corpus(int docs, long seed) throws Exception {
        Path in = tmp.resolve("in");
        Files.createDirectories(in.resolve("sub"));
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int i = 0; i < docs; i++) {
            Path f = (i % 2 == 0 ? in : in.resolve("sub")).resolve("doc" + i + ".txt");
            Files.writeString(f, text(rnd, 50 + rnd.nextInt(400)));
        }
        return in;
    }

    private static List<Path> textFiles(Path in) throws Exception {
        try (var walk = Files.walk(in)) {
            return walk.filter(Files::isRegularFile).filter(p -> p.toString().endsWith(".txt")).sorted().toList();
        }
    }

    private static int[] readSplit(List<Path> shards) throws Exception {
        List<Integer> all = new ArrayList<>();
        for (Path p : shards) {
            TokenShard s = TokenShard.open(p);
            for (int i = 0; i < s.tokenCount(); i++) {
                all.add(s.get(i));
            }
        }
        return all.stream().mapToInt(Integer::intValue).toArray();
    }

    private static String slice(Prepare.Document d) throws Exception {
        byte[] all = Files.readAllBytes(d.file());
        return new String(all, (int) d.start(), (int) d.bytes(), StandardCharsets.UTF_8);
    }

    private static int[] expected(Tokenizer t, Prepare.Summary s, Split split) throws Exception {
        List<String> docs = new ArrayList<>();
        for (Prepare.Document d : s.documents()) {
            if (d.split() == split) {
                docs.add(slice(d));
            }
        }
        return Prepare.expectedTokens(t, docs);
    }

    @Test
    void shardsHoldTheDirectTokenizationOfEachSplit() throws Exception {
        Path in = corpus(9, 1);
        List<String> names = new ArrayList<>(Tokenizers.NAMES);
        names.add("llama32k"); // a Hugging Face tokenizer.json, fetched with npm
        for (String name : names) {
            Tokenizer t = Tokenizers.resolve(name, System.err::println);
            Path out = tmp.resolve("out-" + name);
            // tiny chunks and shards: documents are encoded in many pieces and run across shard ends
            Prepare.Summary s = Prepare.run(Prepare.Options.of(List.of(in), name, out).withValFraction(0.2)
                    .withShardTokens(700).withSeed(3), w -> { }, 97);
            assertEquals(9, s.documents().size());
            assertTrue(s.documentCount(Split.VAL) >= 1 && s.documentCount(Split.TRAIN) >= 1);
            assertEquals(textFiles(in), s.documents().stream().map(Prepare.Document::file).toList(), "path order");
            int[] train = readSplit(s.trainShards());
            int[] val = readSplit(s.valShards());
            assertArrayEquals(expected(t, s, Split.TRAIN), train, name);
            assertArrayEquals(expected(t, s, Split.VAL), val, name);
            assertEquals(train.length, s.trainTokens());
            assertEquals(val.length, s.valTokens());
            assertTrue(s.trainShards().size() > 1, "several train shards");
            assertEquals(out.resolve("out-" + name + "_train_000001.bin"), s.trainShards().get(1));
            assertEquals(TokenizerInfo.of(t), TokenizerInfo.read(out.resolve("tokenizer.json")));
            if (t.hasEndOfText()) {
                assertEquals(t.endOfText(), train[0]);
            }

            // the loader serves the same tokens back: val in order, window w = tokens [w*T, w*T+T] of its shard
            int seq = 16;
            ShardLoader l = new ShardLoader(out, Split.VAL, 1, seq, t.vocabSize());
            int[] x = new int[seq];
            int[] y = new int[seq];
            int offset = 0;
            for (Path shard : l.shardFiles()) {
                int n = TokenShard.open(shard).tokenCount();
                for (int w = 0; w < (n - 1) / seq; w++) {
                    l.next(x, y);
                    assertArrayEquals(Arrays.copyOfRange(val, offset + w * seq, offset + w * seq + seq), x);
                    assertArrayEquals(Arrays.copyOfRange(val, offset + w * seq + 1, offset + w * seq + seq + 1), y);
                }
                offset += n;
            }
        }
    }

    @Test
    void roughlyTheValidationFractionGoesToVal() throws Exception {
        Path in = corpus(60, 2);
        Prepare.Summary s = Prepare.run(Prepare.Options.of(List.of(in), "byte", tmp.resolve("o")).withValFraction(0.1), w -> { });
        double share = (double) s.valTokens() / (s.valTokens() + s.trainTokens());
        assertTrue(share > 0.07 && share <= 0.11, "val share " + share);
        Prepare.Summary again = Prepare.run(Prepare.Options.of(List.of(in), "byte", tmp.resolve("o2")).withValFraction(0.1), w -> { });
        assertEquals(s.documents(), again.documents(), "the same seed draws the same split");
    }

    @Test
    void aSingleDocumentGivesItsTailToValidation() throws Exception {
        Path f = tmp.resolve("one.txt");
        String text = text(new SplittableRandom(4), 3000);
        Files.writeString(f, text);
        Prepare.Summary s = Prepare.run(Prepare.Options.of(List.of(f), "gpt2", tmp.resolve("o")).withValFraction(0.1), w -> { });
        assertEquals(2, s.documents().size());
        Prepare.Document train = s.documents().get(0);
        Prepare.Document val = s.documents().get(1);
        assertEquals(Split.VAL, val.split());
        assertEquals(train.end(), val.start());
        assertEquals(text, slice(train) + slice(val));
        assertTrue(slice(train).endsWith("\n"), "the cut is at a line start");
        double share = val.bytes() / (double) Files.size(f);
        assertTrue(share > 0.08 && share < 0.12, "val share " + share);
    }

    @Test
    void binaryBrokenEmptyAndHiddenFilesAreSkipped() throws Exception {
        Path in = tmp.resolve("in");
        Files.createDirectories(in.resolve(".git"));
        Files.writeString(in.resolve("a.txt"), "alpha\n");
        Files.writeString(in.resolve("b.txt"), "\uFEFFbeta\n");
        Files.write(in.resolve("c.bin"), new byte[] {'x', 0, 'y'});
        Files.write(in.resolve("d.txt"), new byte[] {'o', 'k', (byte) 0xC3, '!'});
        Files.write(in.resolve("e.txt"), new byte[0]);
        Files.writeString(in.resolve(".hidden"), "secret");
        Files.writeString(in.resolve(".git").resolve("config"), "secret");
        List<String> warnings = new ArrayList<>();
        Prepare.Summary s = Prepare.run(Prepare.Options.of(List.of(in), "byte", tmp.resolve("o")).withValFraction(0.5),
                warnings::add);
        assertEquals(List.of(
                "skipping " + in.resolve("c.bin") + ": binary (it holds a NUL byte at offset 1)",
                "skipping " + in.resolve("d.txt") + ": not UTF-8 text (invalid byte sequence at offset 2)",
                "skipping " + in.resolve("e.txt") + ": empty"), warnings);
        assertEquals(2, s.documents().size());
        assertEquals(3, s.documents().get(1).start(), "the byte-order mark is not text");
        String all = new String(toBytes(readSplit(s.trainShards())), StandardCharsets.UTF_8)
                + "|" + new String(toBytes(readSplit(s.valShards())), StandardCharsets.UTF_8);
        assertTrue(all.equals("alpha\n|beta\n") || all.equals("beta\n|alpha\n"), all);
        assertTrue(s.report().contains("skipped: 3 file(s)"), s.report());
    }

    private static byte[] toBytes(int[] tokens) {
        byte[] b = new byte[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            b[i] = (byte) tokens[i];
        }
        return b;
    }

    @Test
    void chunkCutsGiveTheTokensOfTheWholeText() throws Exception {
        SplittableRandom rnd = new SplittableRandom(8);
        for (String name : List.of("gpt2", "cl100k", "llama32k")) {
            Tokenizer t = Tokenizers.resolve(name, System.err::println);
            assertTrue(t.cutsAfterNewline(), name);
            for (int trial = 0; trial < 30; trial++) {
                byte[] bytes = text(rnd, 200).getBytes(StandardCharsets.UTF_8);
                int cut = Prepare.safeCut(bytes, rnd.nextInt(2, bytes.length));
                if (cut < 0) {
                    continue;
                }
                int[] whole = t.encode(new String(bytes, StandardCharsets.UTF_8));
                int[] a = t.encode(new String(bytes, 0, cut, StandardCharsets.UTF_8));
                int[] b = t.encodeContinuation(new String(bytes, cut, bytes.length - cut, StandardCharsets.UTF_8));
                int[] joined = Arrays.copyOf(a, a.length + b.length);
                System.arraycopy(b, 0, joined, a.length, b.length);
                assertArrayEquals(whole, joined, name + " cut at " + cut);
            }
        }
    }

    @Test
    void userErrors() throws Exception {
        Path in = corpus(2, 5);
        Path out = tmp.resolve("o");
        assertEquals("input " + tmp.resolve("missing") + " does not exist", assertThrows(IllegalArgumentException.class,
                () -> Prepare.run(Prepare.Options.of(List.of(tmp.resolve("missing")), "byte", out), w -> { })).getMessage());
        assertEquals("unknown tokenizer 'bpe'; give one of byte, gpt2, cl100k, llama32k or the path of a Hugging Face tokenizer.json", assertThrows(IllegalArgumentException.class,
                () -> Prepare.run(Prepare.Options.of(List.of(in), "bpe", out), w -> { })).getMessage());
        assertThrows(IllegalArgumentException.class, () -> Prepare.Options.of(List.of(in), "byte", out).withValFraction(1.0));
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        assertEquals("found no text to prepare in [" + empty + "]", assertThrows(IllegalArgumentException.class,
                () -> Prepare.run(Prepare.Options.of(List.of(empty), "byte", out), w -> { })).getMessage());

        Prepare.run(Prepare.Options.of(List.of(in), "byte", out), w -> { });
        assertEquals("output folder " + out + " already holds token shards (o_train_000000.bin and 1 more);"
                + " choose another folder or overwrite them (--force)", assertThrows(IllegalArgumentException.class,
                () -> Prepare.run(Prepare.Options.of(List.of(in), "gpt2", out), w -> { })).getMessage());
        Prepare.Summary s = Prepare.run(Prepare.Options.of(List.of(in), "gpt2", out).withOverwrite(true), w -> { });
        assertEquals("gpt2", TokenizerInfo.read(out.resolve("tokenizer.json")).name());
        assertEquals(2, s.documents().size());
        assertFalse(Files.exists(out.resolve("o_train_000000.bin.tmp")));
    }
}
