package sffn.train.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sffn.nn.tokenizer.TokenizerInfo;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ShardLoaderTest {
    /** Shard s holds tokens s*STRIDE + i, so a token names its shard and position. */
    private static final int STRIDE = 10_000;
    private static final int VOCAB = 100_000;
    private static final int T = 8;
    /** (50-1)/8 + (33-1)/8 + (9-1)/8 = 6 + 4 + 1 windows; the 5-token shard holds none. */
    private static final int[] LENGTHS = {50, 33, 9, 5};
    private static final int W = 11;

    @TempDir
    Path dir;

    private void writeData(String prefix, Split split, int[] lengths) throws Exception {
        for (int s = 0; s < lengths.length; s++) {
            int[] t = new int[lengths[s]];
            for (int i = 0; i < t.length; i++) {
                t[i] = s * STRIDE + i;
            }
            TokenShardTest.writeShard(dir.resolve(split.shardName(prefix, s)), VOCAB, t);
        }
    }

    private ShardLoader loader(Split split, int b, ShardLoader.Options o) throws Exception {
        return new ShardLoader(dir, split, b, T, VOCAB, o);
    }

    /** The first token of each window served in the next {@code batches} batches, checking each window's contents. */
    private static List<Integer> serve(ShardLoader l, int batches) {
        int b = l.batchSize();
        int[] in = new int[b * T];
        int[] tg = new int[b * T];
        List<Integer> starts = new ArrayList<>();
        for (int k = 0; k < batches; k++) {
            Arrays.fill(in, -1);
            Arrays.fill(tg, -1);
            l.next(in, tg);
            for (int r = 0; r < b; r++) {
                int first = in[r * T];
                assertEquals(0, (first % STRIDE) % T, "windows start at multiples of T");
                for (int j = 0; j < T; j++) {
                    assertEquals(first + j, in[r * T + j]);
                    assertEquals(first + j + 1, tg[r * T + j]);
                }
                starts.add(first);
            }
        }
        return starts;
    }

    private static Set<Integer> allWindowStarts() {
        Set<Integer> all = new HashSet<>();
        for (int s = 0; s < LENGTHS.length; s++) {
            for (int w = 0; w < (LENGTHS[s] - 1) / T; w++) {
                all.add(s * STRIDE + w * T);
            }
        }
        return all;
    }

    @Test
    void servesEveryWindowExactlyOncePerEpoch() throws Exception {
        writeData("d", Split.TRAIN, LENGTHS);
        ShardLoader l = loader(Split.TRAIN, 3, ShardLoader.Options.DEFAULT.withSeed(42));
        assertEquals(W, l.windowCount());
        assertEquals(1, l.notes().size());
        assertTrue(l.notes().get(0).contains("d_train_000003.bin (5 tokens)"), l.notes().get(0));
        // 11 batches of 3 = 33 windows = exactly 3 epochs, batches running across epoch ends
        List<Integer> served = serve(l, 11);
        List<List<Integer>> epochs = new ArrayList<>();
        for (int e = 0; e < 3; e++) {
            List<Integer> epoch = served.subList(e * W, (e + 1) * W);
            assertEquals(allWindowStarts(), new HashSet<>(epoch), "epoch " + e);
            assertEquals(W, epoch.size());
            epochs.add(epoch);
        }
        assertNotEquals(epochs.get(0), epochs.get(1), "each epoch has its own order");
        assertEquals(new ShardLoader.Position(3, 0), l.position());
    }

    @Test
    void sameSeedSameOrderOtherSeedOtherOrder() throws Exception {
        writeData("d", Split.TRAIN, LENGTHS);
        List<Integer> a = serve(loader(Split.TRAIN, 2, ShardLoader.Options.DEFAULT.withSeed(1)), 20);
        List<Integer> b = serve(loader(Split.TRAIN, 2, ShardLoader.Options.DEFAULT.withSeed(1)), 20);
        List<Integer> c = serve(loader(Split.TRAIN, 2, ShardLoader.Options.DEFAULT.withSeed(2)), 20);
        assertEquals(a, b);
        assertNotEquals(a, c);
    }

    @Test
    void resumesFromASavedPositionWithTheSameSequence() throws Exception {
        writeData("d", Split.TRAIN, LENGTHS);
        ShardLoader.Options o = ShardLoader.Options.DEFAULT.withSeed(9);
        ShardLoader first = loader(Split.TRAIN, 4, o);
        serve(first, 5);
        ShardLoader.Position saved = first.position();
        assertEquals(new ShardLoader.Position(1, 9), saved, "20 windows = one epoch of 11 and 9 more");
        List<Integer> rest = serve(first, 13);

        ShardLoader resumed = loader(Split.TRAIN, 4, o);
        resumed.seek(saved);
        assertEquals(rest, serve(resumed, 13));

        ShardLoader skipped = loader(Split.TRAIN, 4, o);
        skipped.skip(5);
        assertEquals(saved, skipped.position());
        assertEquals(rest, serve(skipped, 13));

        ShardLoader far = loader(Split.TRAIN, 4, o);
        far.skip(5 + 13 + 1000);
        first.skip(1000);
        assertEquals(first.position(), far.position());
    }

    @Test
    void ranksPartitionTheWindows() throws Exception {
        writeData("d", Split.TRAIN, LENGTHS);
        int ws = 3;
        int b = 2;
        int batches = 7;
        List<Integer> single = serve(loader(Split.TRAIN, 1, ShardLoader.Options.DEFAULT.withSeed(5)), batches * b * ws);
        List<List<Integer>> perRank = new ArrayList<>();
        for (int r = 0; r < ws; r++) {
            ShardLoader l = loader(Split.TRAIN, b, ShardLoader.Options.DEFAULT.withSeed(5).withRank(r, ws));
            perRank.add(serve(l, batches));
            assertEquals(new ShardLoader.Position(3, 9), l.position(), "all ranks share one position");
        }
        for (int k = 0; k < batches * b; k++) {
            for (int r = 0; r < ws; r++) {
                assertEquals(single.get(k * ws + r), perRank.get(r).get(k), "round " + k + " rank " + r);
            }
        }
        Set<Integer> firstEpoch = new HashSet<>();
        for (int p = 0; p < W; p++) {
            assertTrue(firstEpoch.add(perRank.get(p % ws).get(p / ws)), "window served twice in epoch 0");
        }
        assertEquals(allWindowStarts(), firstEpoch);
    }

    @Test
    void validationIsServedInOrder() throws Exception {
        writeData("d", Split.VAL, LENGTHS);
        ShardLoader l = loader(Split.VAL, 5, ShardLoader.Options.DEFAULT.withSeed(3));
        List<Integer> served = serve(l, 3);
        List<Integer> expected = new ArrayList<>();
        for (int s = 0; s < LENGTHS.length; s++) {
            for (int w = 0; w < (LENGTHS[s] - 1) / T; w++) {
                expected.add(s * STRIDE + w * T);
            }
        }
        expected.addAll(expected.subList(0, 4));
        assertEquals(expected, served);
        assertEquals(3, l.batchesPerEpoch());
    }

    @Test
    void llmcNamesWithoutNumbersAreFound() throws Exception {
        TokenShardTest.writeShard(dir.resolve("tiny_shakespeare_val.bin"), VOCAB, new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
        assertEquals(List.of(dir.resolve("tiny_shakespeare_val.bin")), ShardLoader.findShards(dir, Split.VAL));
    }

    private String error(Split split, int vocab, ShardLoader.Options o) {
        return assertThrows(IllegalArgumentException.class, () -> new ShardLoader(dir, split, 2, T, vocab, o)).getMessage();
    }

    @Test
    void missingDirectoryOrNoShards() throws Exception {
        Path missing = dir.resolve("nope");
        assertEquals("data directory " + missing + " does not exist; make one with 'sffn prepare --out " + missing + " ...'",
                assertThrows(IllegalArgumentException.class,
                        () -> new ShardLoader(missing, Split.TRAIN, 1, T, VOCAB)).getMessage());
        assertEquals("no val shards in " + dir + ": expected files named <prefix>_val_000000.bin, <prefix>_val_000001.bin, ..."
                + " (as 'sffn prepare' and llm.c's data scripts write them), but it is empty", error(Split.VAL, VOCAB,
                ShardLoader.Options.DEFAULT));
        writeData("d", Split.TRAIN, new int[] {20});
        assertEquals("no val shards in " + dir + ": expected files named <prefix>_val_000000.bin, <prefix>_val_000001.bin, ..."
                + " (as 'sffn prepare' and llm.c's data scripts write them), but it holds d_train_000000.bin", error(Split.VAL, VOCAB,
                ShardLoader.Options.DEFAULT));
    }

    @Test
    void twoDataSetsInOneDirectory() throws Exception {
        writeData("a", Split.TRAIN, new int[] {20});
        writeData("b", Split.TRAIN, new int[] {20});
        assertEquals(dir + " holds train shards of more than one data set (prefixes a, b); keep one data set per directory",
                error(Split.TRAIN, VOCAB, ShardLoader.Options.DEFAULT));
    }

    @Test
    void shardsTooShortForOneWindow() throws Exception {
        writeData("d", Split.TRAIN, new int[] {8, 3});
        assertEquals("the train shards in " + dir + " are too short for one window of sequence length + 1 = 9 tokens:"
                + " d_train_000000.bin (8 tokens), d_train_000001.bin (3 tokens); use a shorter sequence length or more data",
                error(Split.TRAIN, VOCAB, ShardLoader.Options.DEFAULT));
    }

    @Test
    void damagedShardIsNamed() throws Exception {
        writeData("d", Split.TRAIN, new int[] {20});
        Path f = dir.resolve("d_train_000000.bin");
        byte[] bytes = Files.readAllBytes(f);
        Files.write(f, Arrays.copyOf(bytes, bytes.length - 6));
        assertTrue(error(Split.TRAIN, VOCAB, ShardLoader.Options.DEFAULT).startsWith(f + " is truncated or damaged"));
    }

    @Test
    void tokensOutsideTheModelVocabulary() throws Exception {
        writeData("d", Split.TRAIN, new int[] {50, 33});
        // shard 1 holds 10000..10032: a model of 10010 ids is too small, and the check at open sees it
        assertEquals(dir.resolve("d_train_000001.bin") + " holds token 10010 at position 10, outside the model's vocabulary"
                + " of 10010 ids (0..10009): the shards were made with a different tokenizer than the model's",
                error(Split.TRAIN, 10_010, ShardLoader.Options.DEFAULT));
    }

    @Test
    void outOfVocabularyTokenBeyondTheSampleIsCaughtWhenServedOrByAFullScan() throws Exception {
        int n = 200_001;
        int bad = 150_001;
        int[] t = new int[n];
        t[bad] = 300;
        TokenShardTest.writeShard(dir.resolve("big_train_000000.bin"), 512, t);
        int seq = 100_000;
        ShardLoader l = new ShardLoader(dir, Split.TRAIN, 1, seq, 256,
                ShardLoader.Options.DEFAULT.withSeed(0));
        String expected = dir.resolve("big_train_000000.bin") + " holds token 300 at position 150001, outside the model's"
                + " vocabulary of 256 ids (0..255): the shards were made with a different tokenizer than the model's";
        int[] in = new int[seq];
        int[] tg = new int[seq];
        IllegalArgumentException served = assertThrows(IllegalArgumentException.class, () -> {
            l.next(in, tg);
            l.next(in, tg);
        });
        assertEquals(expected, served.getMessage());
        assertEquals(expected, assertThrows(IllegalArgumentException.class, () -> new ShardLoader(dir, Split.TRAIN, 1, seq, 256,
                ShardLoader.Options.DEFAULT.withFullScan(true))).getMessage());
    }

    @Test
    void tokenizerDescriptionLargerThanTheModelIsRefused() throws Exception {
        writeData("d", Split.TRAIN, new int[] {20});
        new TokenizerInfo("gpt2", 50257, 50256).write(dir.resolve(TokenizerInfo.FILE_NAME));
        assertEquals(dir.resolve(TokenizerInfo.FILE_NAME) + " says the shards hold 'gpt2' tokens (50257 ids), more than the"
                + " model's vocabulary of 256; prepare the data with the model's tokenizer or give the model a vocabulary of"
                + " at least 50257", error(Split.TRAIN, 256, ShardLoader.Options.DEFAULT));
        ShardLoader ok = new ShardLoader(dir, Split.TRAIN, 1, T, 50304);
        assertEquals("gpt2", ok.tokenizerInfo().orElseThrow().name());
    }

    @Test
    void seekPastTheWindowsIsRefused() throws Exception {
        writeData("d", Split.TRAIN, LENGTHS);
        ShardLoader l = loader(Split.TRAIN, 1, ShardLoader.Options.DEFAULT);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> l.seek(new ShardLoader.Position(0, 11)));
        assertTrue(e.getMessage().startsWith("loader position 11 is past the 11 windows of the train shards in " + dir), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ShardLoader.Options.DEFAULT.withRank(3, 3));
    }
}
