package sffn.train.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sffn.train.TrainerState;

/**
 * Property: a damaged token shard (truncated, bytes flipped, a header whose token count, magic or
 * version lies) or a damaged {@code trainer_state.json} either reads correctly — every window
 * served holds exactly the tokens of the file, all inside the vocabulary — or fails with an
 * {@link IllegalArgumentException} or {@link IOException} naming the file. Never an
 * out-of-bounds read, a negative array size, a number-format exception or a hang. Seeded.
 */
class CorruptShardFilesTest {
    static final int CASES = 300;
    static final int VOCAB = 300;
    static final int SEQ = 8;

    @TempDir
    Path dir;

    @Test
    void damagedShardsReadCorrectlyOrFailClearly() {
        assertTimeoutPreemptively(Duration.ofMinutes(2), this::tryAllShards);
    }

    private void tryAllShards() throws Exception {
        SplittableRandom rnd = new SplittableRandom(777);
        int[] tokens = new int[2001];
        for (int i = 0; i < tokens.length; i++) tokens[i] = rnd.nextInt(VOCAB);
        Path good = dir.resolve("good.bin");
        try (TokenShardWriter w = new TokenShardWriter(good, VOCAB)) {
            w.write(tokens, 0, tokens.length);
        }
        byte[] bytes = Files.readAllBytes(good);
        Map<String, int[]> outcomes = new TreeMap<>();
        for (int c = 0; c < CASES; c++) {
            Path d = Files.createDirectories(dir.resolve("case" + c));
            Path file = d.resolve("toy_train_000000.bin");
            byte[] b = bytes.clone();
            String kind;
            switch (rnd.nextInt(6)) {
                case 0 -> {
                    kind = "truncated";
                    b = Arrays.copyOf(bytes, rnd.nextInt(bytes.length));
                }
                case 1 -> {
                    kind = "token bytes flipped";
                    for (int k = rnd.nextInt(1, 6); k > 0; k--) {
                        b[TokenShard.HEADER_BYTES + rnd.nextInt(b.length - TokenShard.HEADER_BYTES)] ^= (byte) rnd.nextInt(1, 256);
                    }
                }
                case 2 -> {
                    kind = "token count lies";
                    int[] lies = {tokens.length + rnd.nextInt(1, 100000), tokens.length - rnd.nextInt(1, tokens.length), -1,
                            Integer.MAX_VALUE, Integer.MIN_VALUE, 0, rnd.nextInt()};
                    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(8, lies[rnd.nextInt(lies.length)]);
                }
                case 3 -> {
                    kind = "magic or version lies";
                    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(rnd.nextBoolean() ? 0 : 4,
                            rnd.nextBoolean() ? rnd.nextInt() : rnd.nextInt(-1, 4));
                }
                case 4 -> {
                    kind = "header bytes flipped";
                    for (int k = rnd.nextInt(1, 4); k > 0; k--) b[rnd.nextInt(12)] ^= (byte) rnd.nextInt(1, 256);
                }
                default -> {
                    kind = "bytes appended";
                    b = Arrays.copyOf(bytes, bytes.length + rnd.nextInt(1, 9));
                }
            }
            Files.write(file, b);
            int[] tally = outcomes.computeIfAbsent(kind, k -> new int[2]);
            String label = "case " + c + " (" + kind + ")";
            try {
                ShardLoader loader = new ShardLoader(d, Split.TRAIN, 3, SEQ, VOCAB);
                int[] in = new int[3 * SEQ];
                int[] target = new int[3 * SEQ];
                // Windows are served in a shuffled order; check each against the file's own tokens.
                TokenShard shard = TokenShard.open(file);
                int[] all = new int[shard.tokenCount()];
                shard.copy(0, all, 0, all.length);
                for (long batch = 0; batch < loader.batchesPerEpoch(); batch++) {
                    loader.next(in, target);
                    for (int v : in) assertTrue(v >= 0 && v < VOCAB, label + ": served token " + v);
                }
                if (Arrays.equals(b, bytes)) assertArrayEquals(tokens, all, label);
                tally[0]++;
            } catch (IllegalArgumentException | IOException e) {
                if (e instanceof NumberFormatException) fail(label, e);
                assertTrue(e.getMessage() != null && e.getMessage().contains(d.toString()), label + ": names the file: " + e);
                tally[1]++;
            } catch (RuntimeException | Error e) {
                fail(label + " failed with " + e, e);
            }
        }
        assertEquals(CASES, outcomes.values().stream().mapToInt(t -> t[0] + t[1]).sum());
        StringBuilder sb = new StringBuilder();
        outcomes.forEach((k, v) -> sb.append("; ").append(k).append(": ").append(v[0]).append('/').append(v[1]));
        System.out.println("CorruptShardFilesTest: " + CASES + " damaged shards (kind: read/refused) " + sb.substring(2));
    }

    @Test
    void damagedTrainerStatesFailClearly() throws Exception {
        Path d = Files.createDirectories(dir.resolve("state"));
        new TrainerState(12, 1536, 3.5e9, 2, 40, -7L, 12.5, 1).write(d);
        String good = Files.readString(d.resolve(TrainerState.FILE));
        SplittableRandom rnd = new SplittableRandom(99);
        String[] replacements = {"-1", "2147483648", "1e999", "\"x\"", "null", "[]", "{}", "99999999999999999999999", "3.5"};
        int refused = 0;
        for (int c = 0; c < 100; c++) {
            String s = good;
            if (rnd.nextBoolean()) {
                s = s.substring(0, rnd.nextInt(s.length()));
            } else {
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("-?[0-9][0-9.eE+-]*").matcher(s);
                java.util.List<int[]> spans = new java.util.ArrayList<>();
                while (m.find()) spans.add(new int[] {m.start(), m.end()});
                int[] span = spans.get(rnd.nextInt(spans.size()));
                s = s.substring(0, span[0]) + replacements[rnd.nextInt(replacements.length)] + s.substring(span[1]);
            }
            Files.writeString(d.resolve(TrainerState.FILE), s);
            try {
                TrainerState st = TrainerState.read(d);
                assertTrue(st.step() >= 0 && st.tokens() >= 0 && st.loaderEpoch() >= 0 && st.loaderPosition() >= 0, "case " + c);
            } catch (IllegalArgumentException e) {
                if (e instanceof NumberFormatException) fail("case " + c, e);
                assertTrue(e.getMessage().contains(TrainerState.FILE), "case " + c + ": " + e.getMessage());
                refused++;
            }
        }
        assertTrue(refused > 50, "most damage is caught: " + refused);
    }
}
