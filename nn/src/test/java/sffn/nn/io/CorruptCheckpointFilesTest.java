package sffn.nn.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sffn.nn.Gpt;
import sffn.nn.Parameter;
import sffn.nn.config.FfnType;
import sffn.nn.config.MethodConfig;
import sffn.nn.config.PostInit;

/**
 * Property: whatever damage is done to a checkpoint's {@code model.safetensors} or
 * {@code config.json} — truncation, flipped bytes, a header length or tensor offsets that lie,
 * numbers in the config made huge, negative or wrong — reading it either loads a model with
 * finite weights of the right shapes or fails with an {@link IllegalArgumentException} or
 * {@link java.io.IOException} whose message names the file, quickly. Never an index out of
 * bounds, a negative array size, a number-format or null-pointer exception, an out-of-memory
 * error or a hang. Seeded: the same cases every run.
 */
class CorruptCheckpointFilesTest {
    static final int CASES = 300;

    @TempDir
    Path dir;

    @Test
    void damagedCheckpointsLoadCorrectlyOrFailClearly() {
        // A hang anywhere fails the test instead of stalling the build.
        assertTimeoutPreemptively(Duration.ofMinutes(3), this::tryAll);
    }

    private void tryAll() throws Exception {
        Gpt model = new Gpt(ModelCheckpointTest.CFG, new MethodConfig(FfnType.LOWRANK, 8, 0, PostInit.SVD, true)).init(7);
        Path good = dir.resolve("good");
        AtomicDirectory.write(good, d -> ModelCheckpoint.write(d, model, null));
        byte[] st = Files.readAllBytes(good.resolve(ModelCheckpoint.MODEL));
        byte[] cfg = Files.readAllBytes(good.resolve(ModelCheckpoint.CONFIG));
        long headerLen = ByteBuffer.wrap(st, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();

        SplittableRandom rnd = new SplittableRandom(20261201);
        Map<String, int[]> outcomes = new TreeMap<>(); // kind -> {loaded, refused}
        for (int c = 0; c < CASES; c++) {
            Path ck = dir.resolve("case" + c);
            Files.createDirectories(ck);
            byte[] s2 = st.clone();
            byte[] c2 = cfg.clone();
            String kind;
            switch (rnd.nextInt(9)) {
                case 0 -> {
                    kind = "safetensors truncated";
                    s2 = Arrays.copyOf(st, rnd.nextInt(st.length));
                }
                case 1 -> {
                    kind = "safetensors bytes flipped";
                    for (int k = rnd.nextInt(1, 9); k > 0; k--) s2[rnd.nextInt(s2.length)] ^= (byte) rnd.nextInt(1, 256);
                }
                case 2 -> {
                    kind = "safetensors header bytes flipped";
                    for (int k = rnd.nextInt(1, 4); k > 0; k--) s2[8 + rnd.nextInt((int) headerLen)] ^= (byte) rnd.nextInt(1, 256);
                }
                case 3 -> {
                    kind = "safetensors header length lies";
                    long[] lies = {headerLen + rnd.nextInt(1, 5000), headerLen - rnd.nextInt(1, (int) headerLen), -1L,
                            Long.MAX_VALUE, 1L << 40, st.length, 0, rnd.nextLong()};
                    ByteBuffer.wrap(s2, 0, 8).order(ByteOrder.LITTLE_ENDIAN).putLong(lies[rnd.nextInt(lies.length)]);
                }
                case 4 -> {
                    kind = "safetensors offsets or shape lie";
                    s2 = lieInHeader(st, headerLen, rnd);
                }
                case 5 -> {
                    kind = "config.json truncated";
                    c2 = Arrays.copyOf(cfg, rnd.nextInt(cfg.length));
                }
                case 6 -> {
                    kind = "config.json bytes flipped";
                    for (int k = rnd.nextInt(1, 4); k > 0; k--) c2[rnd.nextInt(c2.length)] ^= (byte) rnd.nextInt(1, 256);
                }
                case 7 -> {
                    kind = "config.json numbers changed";
                    c2 = changeANumber(cfg, rnd);
                }
                default -> {
                    kind = "both files damaged";
                    s2 = Arrays.copyOf(st, rnd.nextInt(st.length));
                    c2 = changeANumber(cfg, rnd);
                }
            }
            Files.write(ck.resolve(ModelCheckpoint.MODEL), s2);
            Files.write(ck.resolve(ModelCheckpoint.CONFIG), c2);
            String label = "case " + c + " (" + kind + ")";
            int[] tally = outcomes.computeIfAbsent(kind, k -> new int[2]);
            Throwable thrown = null;
            try {
                Gpt back = ModelCheckpoint.read(ck);
                for (Parameter p : back.parameters()) {
                    for (float v : p.value.data) assertTrue(Float.isFinite(v), label + ": loaded a non-finite weight");
                }
            } catch (Throwable t) {
                thrown = t;
            }
            if (thrown == null) {
                tally[0]++;
                continue;
            }
            tally[1]++;
            boolean clear = (thrown instanceof IllegalArgumentException && !(thrown instanceof NumberFormatException))
                    || thrown instanceof IOException;
            if (!clear) fail(label + " failed with " + thrown, thrown);
            String m = thrown.getMessage();
            assertTrue(m != null && m.contains(ck.toString()), label + ": the message must name the file: " + m);
            assertFalse(m.contains("Exception"), label + ": " + m);
        }
        int total = outcomes.values().stream().mapToInt(t -> t[0] + t[1]).sum();
        assertEquals(CASES, total);
        System.out.println("CorruptCheckpointFilesTest: " + CASES + " damaged checkpoints (kind: loaded/refused) " + describe(outcomes));
    }

    /** Replaces one number of the header's JSON (an offset or a dimension) by another, keeping the header length. */
    private static byte[] lieInHeader(byte[] st, long headerLen, SplittableRandom rnd) {
        String head = new String(st, 8, (int) headerLen, StandardCharsets.UTF_8);
        String changed = changeNumber(head, rnd);
        byte[] h = changed.getBytes(StandardCharsets.UTF_8);
        // Keep the data where it was: pad (or cut) the header back to its length, as the format allows spaces.
        byte[] fixed = new byte[(int) headerLen];
        Arrays.fill(fixed, (byte) ' ');
        System.arraycopy(h, 0, fixed, 0, Math.min(h.length, fixed.length));
        byte[] out = st.clone();
        System.arraycopy(fixed, 0, out, 8, fixed.length);
        return out;
    }

    private static byte[] changeANumber(byte[] cfg, SplittableRandom rnd) {
        return changeNumber(new String(cfg, StandardCharsets.UTF_8), rnd).getBytes(StandardCharsets.UTF_8);
    }

    private static final String[] REPLACEMENTS = {"0", "-1", "2147483647", "2147483648", "9223372036854775807",
            "99999999999999999999", "1e999", "-1e999", "3.5", "1", "7", "65536", "\"x\"", "null", "[]", "{}"};

    private static String changeNumber(String json, SplittableRandom rnd) {
        Matcher m = Pattern.compile("-?\\d+(\\.\\d+)?([eE][-+]?\\d+)?").matcher(json);
        java.util.List<int[]> spans = new java.util.ArrayList<>();
        while (m.find()) spans.add(new int[] {m.start(), m.end()});
        if (spans.isEmpty()) return json;
        int[] span = spans.get(rnd.nextInt(spans.size()));
        String number = json.substring(span[0], span[1]);
        String replacement = REPLACEMENTS[rnd.nextInt(REPLACEMENTS.length)];
        if (rnd.nextBoolean() && number.matches("\\d{1,9}")) {
            replacement = Long.toString(Long.parseLong(number) + rnd.nextInt(-3, 4)); // off by a little
        }
        return json.substring(0, span[0]) + replacement + json.substring(span[1]);
    }

    private static String describe(Map<String, int[]> outcomes) {
        StringBuilder sb = new StringBuilder();
        outcomes.forEach((k, v) -> sb.append("; ").append(k).append(": ").append(v[0]).append('/').append(v[1]));
        return sb.substring(2);
    }
}
