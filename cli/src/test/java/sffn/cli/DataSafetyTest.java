package sffn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static sffn.cli.CommandsEndToEndTest.concat;
import static sffn.cli.CommandsEndToEndTest.run;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sffn.cli.CommandsEndToEndTest.Run;
import sffn.nn.io.CheckpointLock;

/**
 * Tries to lose data through the commands as a user would, and must fail every time: training
 * over a folder of notes, over the data, over a checkpoint caught mid-swap, two writers at once,
 * a diverging run, unusable output paths. Each case checks that the refusal is one clear line
 * (exit 2) and that every byte that was there before is still there.
 */
class DataSafetyTest {
    @TempDir
    static Path tmp;
    static Path data;
    static Path model;
    /** Bad inputs tried here, by class, for the count in the closing note. */
    static final Map<String, Integer> TRIED = new TreeMap<>();

    @BeforeAll
    static void corpusAndConfig() throws Exception {
        Path texts = Files.createDirectories(tmp.resolve("texts"));
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 200; i++) sb.append("The jury said the election was conducted well, number ").append(i % 13).append(".\n");
        Files.writeString(texts.resolve("a.txt"), sb.toString());
        Files.writeString(texts.resolve("b.txt"), sb.toString().replace("jury", "committee"));
        data = tmp.resolve("data");
        Run r = run("prepare", "--input", texts.toString(), "--tokenizer", "byte", "--out", data.toString(), "--no-progress",
                "--val-fraction", "0.3");
        assertEquals(0, r.code(), r.err());
        model = tmp.resolve("model.json");
        Files.writeString(model, """
                {"hidden_dim": 32, "ffn_dim": 64, "num_q_heads": 4, "num_kv_heads": 2, "num_layers": 2,
                 "max_position_embeddings": 64, "vocab_size": 256, "ln": "rmsnorm", "act": "swiglu"}""");
    }

    /** A small training command line; {@code more} adds options or replaces the value of one already there. */
    static String[] train(Path out, String... more) {
        List<String> args = new java.util.ArrayList<>(List.of("train", "--config", model.toString(), "--data", data.toString(),
                "--out", out.toString(), "--steps", "2", "--batch-size", "2", "--seq-len", "16", "--eval-windows", "2",
                "--lr", "3e-3"));
        for (int i = 0; i < more.length; i++) {
            int at = args.indexOf(more[i]);
            if (at > 0 && !more[i].contains("=") && i + 1 < more.length) {
                args.set(at + 1, more[++i]);
            } else {
                args.add(more[i]);
            }
        }
        return args.toArray(String[]::new);
    }

    /** Relative path -> SHA-256 of every file under {@code dir} (or of the file itself). */
    static Map<String, String> snapshot(Path dir) throws Exception {
        Map<String, String> m = new TreeMap<>();
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).sorted().toList()) {
                m.put(dir.relativize(p).toString(), HexFormat.of().formatHex(sha.digest(Files.readAllBytes(p))));
            }
        }
        return m;
    }

    static void refused(String kind, Run r, String expected) {
        TRIED.merge(kind, 1, Integer::sum);
        assertEquals(2, r.code(), kind + ": " + r.out() + r.err());
        assertTrue(r.err().contains(expected), kind + ": " + r.err());
        assertEquals(1, r.err().strip().lines().count(), "one line, no stack trace: " + r.err());
    }

    @Test
    void aFolderThatIsNotACheckpointIsNeverReplaced() throws Exception {
        Path notes = Files.createDirectories(tmp.resolve("notes"));
        Files.writeString(notes.resolve("todo.txt"), "buy milk\n");
        Files.createDirectories(notes.resolve("drafts"));
        Files.writeString(notes.resolve("drafts/paper.tex"), "\\section{Intro}\n");
        Map<String, String> before = snapshot(notes);
        refused("non-checkpoint --out", run(train(notes)), "is not empty and is not an sffn checkpoint");
        refused("non-checkpoint --out, resume", run("train", "--out", notes.toString(), "--resume"),
                "is not empty and is not an sffn checkpoint");
        // A checkpoint-looking file among the notes does not make it one.
        Files.writeString(notes.resolve("config.json"), "{}");
        refused("checkpoint with foreign files", run(train(notes)), "which sffn did not write");
        Files.delete(notes.resolve("config.json"));
        assertEquals(before, snapshot(notes));

        Path file = tmp.resolve("a-file");
        Files.writeString(file, "keep me");
        refused("--out is a file", run(train(file)), "is a file, not a directory");
        assertEquals("keep me", Files.readString(file));
    }

    @Test
    void outputOverlappingTheDataIsRefused() throws Exception {
        Map<String, String> before = snapshot(data);
        refused("--out equal to --data", run(train(data)), "is the data directory");
        refused("--out inside --data", run(train(data.resolve("ckpt"))), "is inside the data directory");
        Path outer = Files.createDirectories(tmp.resolve("outer"));
        Path inner = outer.resolve("data");
        Files.createDirectories(inner);
        for (Path f : Files.list(data).toList()) Files.copy(f, inner.resolve(f.getFileName()));
        refused("--out containing --data", run(train(outer, "--data", inner.toString())), "contains the data directory");
        Path link = Files.createSymbolicLink(tmp.resolve("data-link"), data);
        refused("--out a link to --data", run(train(link)), "is the data directory");
        refused("--out through a link inside --data", run(train(link.resolve("ckpt"))), "is inside the data directory");
        assertEquals(before, snapshot(data));
        assertFalse(Files.exists(data.resolve("ckpt")));

        Path texts = tmp.resolve("texts");
        refused("prepare --out equal to --input", run("prepare", "--input", texts.toString(), "--tokenizer", "byte",
                "--out", texts.toString(), "--no-progress"), "is the input");
        refused("prepare --out inside --input", run("prepare", "--input", texts.toString(), "--tokenizer", "byte",
                "--out", texts.resolve("shards").toString(), "--no-progress"), "is inside the input");
        refused("prepare --out containing --input", run("prepare", "--input", texts.resolve("a.txt").toString(),
                "--tokenizer", "byte", "--out", tmp.toString(), "--no-progress"), "contains the input");
    }

    @Test
    void aCrashBetweenTheTwoRenamesIsRecoveredBeforeAnythingIsDecided() throws Exception {
        Path ck = tmp.resolve("crashed");
        Run first = run(train(ck));
        assertEquals(0, first.code(), first.err());
        Map<String, String> before = snapshot(ck);
        // What a kill between "ck -> ck.old" and "ck.tmp-* -> ck" leaves: no ck at all.
        Files.move(ck, tmp.resolve("crashed.old"));
        Path temp = Files.createDirectories(tmp.resolve("crashed.tmp-2147483646-77"));
        Files.writeString(temp.resolve("config.json"), "{\"half\": ");
        refused("new run over a crashed checkpoint", run(train(ck)), "already holds a checkpoint; pass --resume");
        assertEquals(before, snapshot(ck), "the old run is back, whole");
        assertFalse(Files.exists(tmp.resolve("crashed.old")));
        assertFalse(Files.exists(temp));
        Run resumed = run("train", "--out", ck.toString(), "--resume");
        assertEquals(0, resumed.code(), resumed.err());
    }

    @Test
    void aSecondWriterIsRefusedWhileReadersRead() throws Exception {
        Path ck = tmp.resolve("shared");
        assertEquals(0, run(train(ck, "--steps", "3", "--stop-at-step", "1")).code());
        long self = ProcessHandle.current().pid();
        try (CheckpointLock held = CheckpointLock.acquire(ck)) {
            refused("second writer (same process)", run(train(ck)), "is being written by another sffn process (pid " + self);
            refused("resume while running (same process)", run("train", "--out", ck.toString(), "--resume"), "pid " + self);
            Run eval = run("eval", "--checkpoint", ck.toString(), "--data", data.toString(), "--max-windows", "2");
            assertEquals(0, eval.code(), "eval reads while a writer holds the lock: " + eval.err());
        }

        // Another JVM holding the lock, as a running 'sffn train' does.
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process holder = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), LockHolder.class.getName(),
                ck.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try {
            String line = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8)).readLine();
            assertEquals("locked " + holder.pid(), line);
            refused("second writer (other process)", run("train", "--out", ck.toString(), "--resume"), "pid " + holder.pid());
            Run gen = run("generate", "--checkpoint", ck.toString(), "--prompt", "The", "--max-tokens", "3", "--ffn-path", "merged");
            assertEquals(0, gen.code(), gen.err());
        } finally {
            holder.destroyForcibly().waitFor();
        }
        Run resumed = run("train", "--out", ck.toString(), "--resume");
        assertEquals(0, resumed.code(), "the OS released the dead holder's lock: " + resumed.err());
        assertTrue(resumed.out().contains("done: step 3 of 3"), resumed.out());
    }

    @Test
    void aDivergingRunNeverSavesWhatItCannotEvaluate() throws Exception {
        Path ck = tmp.resolve("diverged");
        Run r = run(train(ck, "--steps", "6", "--save-every", "1", "--lr", "1e30"));
        TRIED.merge("diverging run (--lr 1e30)", 1, Integer::sum);
        assertEquals(2, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("stopping"), r.err());
        Matcher kept = Pattern.compile("The last good checkpoint in (\\S+) \\(step (\\d+)\\) is kept").matcher(r.err());
        if (kept.find()) {
            assertEquals(ck.toString(), kept.group(1));
            assertTrue(Files.readString(ck.resolve("trainer_state.json")).contains("\"step\" : " + kept.group(2) + ","),
                    "the checkpoint the message names is the one on disk: " + r.err());
        }
        if (Files.exists(ck)) {
            Run eval = run("eval", "--checkpoint", ck.toString(), "--data", data.toString(), "--json");
            assertEquals(0, eval.code(), "whatever was kept evaluates: " + eval.err());
            assertFalse(eval.out().contains("NaN"), eval.out());
        } else {
            assertTrue(r.err().contains("No checkpoint was saved"), r.err());
        }
        for (String bad : List.of("Infinity", "-Infinity", "NaN", "1e999")) {
            refused("non-finite float option", run(train(tmp.resolve("never"), "--lr", bad)), "is not a finite number");
        }
        refused("non-finite float option", run(train(tmp.resolve("never"), "--weight-decay", "NaN")), "is not a finite number");
        refused("non-finite float option", run(train(tmp.resolve("never"), "--flop-budget", "Infinity")), "is not a finite number");
        refused("non-finite float option", run("generate", "--checkpoint", ck.toString(), "--prompt", "x", "--temperature", "NaN"),
                "is not a finite number");
        refused("non-finite float option", run("generate", "--checkpoint", ck.toString(), "--prompt", "x", "--top-p", "Infinity"),
                "is not a finite number");
        assertFalse(Files.exists(tmp.resolve("never")));
    }

    @Test
    void unusableOutputIsFoundBeforeTraining() throws Exception {
        refused("--out under /proc", run(train(Path.of("/proc/self/sffn-ckpt"))), "cannot");
        Path file = tmp.resolve("plain-file");
        Files.writeString(file, "x");
        refused("--out under a file", run(train(file.resolve("ckpt"))), "cannot");
        assertEquals("x", Files.readString(file));
    }

    /**
     * A full and a read-only filesystem, made with a 1 MiB tmpfs. Needs the right to mount
     * (root in most containers); elsewhere the test is aborted, saying why, and the same code
     * paths are covered by the /proc and file cases above.
     */
    @Test
    void fullAndReadOnlyFilesystemsAreFoundBeforeTraining() throws Exception {
        Path mnt = Files.createDirectories(tmp.resolve("tinyfs"));
        org.junit.jupiter.api.Assumptions.assumeTrue(sh("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt.toString()) == 0,
                "cannot mount a tmpfs here (not root?)");
        try {
            // Too small for a checkpoint (the check keeps a margin of 1 MiB) ...
            refused("--out on a filesystem without room for a checkpoint", run(train(mnt.resolve("ck"))), "is free on " + mnt);
            // ... and full.
            Files.write(mnt.resolve("fill"), new byte[(1 << 20) - 4096]);
            refused("--out on a full filesystem", run(train(mnt.resolve("ck2"))), "No space left on device");
            Files.delete(mnt.resolve("fill"));
            assertEquals(0, sh("mount", "-o", "remount,ro", mnt.toString()));
            refused("--out on a read-only filesystem", run(train(mnt.resolve("ck3"))), "Read-only file system");
        } finally {
            sh("umount", mnt.toString());
        }
    }

    private static int sh(String... command) throws Exception {
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start()
                .waitFor();
    }

    @Test
    void everyNumericOptionIsRangeChecked() throws Exception {
        Path never = tmp.resolve("never-numbers");
        String[][] trainCases = {
                {"--tokens", "-5"}, {"--tokens", "0"}, {"--tokens", "99999999999999999"}, {"--tokens", "9223372036854775808"},
                {"--steps", "0"}, {"--steps", "-1"}, {"--steps", "2147483648"}, {"--batch-size", "0"}, {"--seq-len", "0"},
                {"--seq-len", "65"}, {"--grad-accum", "0"}, {"--eval-every", "-1"}, {"--eval-windows", "-1"},
                {"--save-every", "-1"}, {"--warmup-ratio", "1"}, {"--weight-decay", "-0.1"}, {"--grad-clip", "-1"},
                {"--guide-ratio", "0"}, {"--guide-ratio", "1.5"}, {"--stop-at-step", "0"}, {"--stop-at-step", "-3"},
                {"--batch-size", "2147483647", "--seq-len", "64"}, {"--batch-size", "200000", "--seq-len", "64"},
                {"--flop-budget", "-1"}, {"--lr", "0"}, {"--lr", "-1e-3"}};
        for (String[] c : trainCases) {
            String[] args = train(never, c);
            if (c[0].equals("--tokens")) args = withoutSteps(args);
            Run r = run(args);
            refused("train numeric option", r, "");
            assertTrue(r.err().contains(c[0]) || r.err().contains(c[0].substring(2).replace('-', '_'))
                    || r.err().contains("seq_len") || r.err().contains("memory"), "names the option: " + r.err());
        }
        assertFalse(Files.exists(never));

        Path ck = tmp.resolve("for-numbers");
        assertEquals(0, run(train(ck)).code());
        String[][] evalCases = {{"--max-windows", "-1"}, {"--batch-size", "0"}, {"--seq-len", "0"}, {"--seq-len", "65"},
                {"--max-windows", "99999999999"}};
        for (String[] c : evalCases) {
            refused("eval numeric option", run(concat(new String[] {"eval", "--checkpoint", ck.toString(), "--data",
                    data.toString()}, c)), "");
        }
        String[][] generateCases = {{"--max-tokens", "2147483647"}, {"--max-tokens", "0"}, {"--max-tokens", "-1"},
                {"--max-tokens", "64", "--batch", "2"}, {"--batch", "0"}, {"--batch", "100000000"}, {"--top-k", "-1"}, {"--temperature", "-1"},
                {"--top-p", "0"}, {"--top-p", "1.5"}};
        for (String[] c : generateCases) {
            refused("generate numeric option", run(concat(new String[] {"generate", "--checkpoint", ck.toString(), "--prompt",
                    "The"}, c)), "");
        }
        Path texts = tmp.resolve("texts");
        String[][] prepareCases = {{"--val-fraction", "1"}, {"--val-fraction", "-0.1"}, {"--val-fraction", "NaN"},
                {"--shard-tokens", "0"}, {"--shard-tokens", "2147483648"}};
        for (String[] c : prepareCases) {
            refused("prepare numeric option", run(concat(new String[] {"prepare", "--input", texts.toString(), "--tokenizer",
                    "byte", "--out", tmp.resolve("never-prepared").toString(), "--no-progress"}, c)), "");
        }
        refused("info numeric option", run("info", "--config", model.toString(), "--tokens", "-1"), "--tokens");
        refused("info numeric option", run("info", "--config", model.toString(), "--tokens", "Infinity"), "finite");
        refused("plot numeric option", run("plot", "--runs", ck.toString(), "--out", tmp.resolve("p.png").toString(),
                "--smooth", "1.5"), "--smooth");
        refused("bench numeric option", run("bench", "decode", "--config", model.toString(), "--context", "0"), "--context");
        refused("bench numeric option", run("bench", "decode", "--config", model.toString(), "--batch", "1,0"), "--batch");
        refused("bench numeric option", run("bench", "decode", "--config", model.toString(), "--steps", "2147483000"),
                "max_position_embeddings");
        refused("bench numeric option", run("bench", "ffn", "--tokens", "0"), "--tokens");
        refused("bench numeric option", run("bench", "ffn", "--budget-ms", "NaN"), "finite");
        refused("bench numeric option", run("bench", "merge", "--checkpoint", ck.toString(), "--max-tokens", "0"), "--max-tokens");
        assertFalse(Files.exists(tmp.resolve("never-prepared")));
    }

    static String[] withoutSteps(String[] args) {
        List<String> l = new java.util.ArrayList<>(List.of(args));
        int i = l.indexOf("--steps");
        l.remove(i + 1);
        l.remove(i);
        return l.toArray(String[]::new);
    }

    @Test
    void badConfigFieldsAreRefused() throws Exception {
        String base = Files.readString(model);
        String[][] cases = {
                {"\"max_position_embeddings\": 64", "\"max_position_embeddings\": 2147483647", "max_position_embeddings"},
                {"\"hidden_dim\": 32", "\"hidden_dim\": 2147483640", "is too large"},
                {"\"vocab_size\": 256", "\"vocab_size\": 2147483648", "vocab_size"},
                {"\"vocab_size\": 256", "\"vocab_size\": 256, \"rotary_base\": 1e999", "rotary_base"},
                {"\"vocab_size\": 256", "\"vocab_size\": 256, \"initializer_range\": -0.02", "initializer_range"},
                {"\"num_layers\": 2", "\"num_layers\": 0", "num_layers"},
        };
        for (String[] c : cases) {
            Path bad = tmp.resolve("bad-model.json");
            Files.writeString(bad, base.replace(c[0], c[1]));
            Run r = run("train", "--config", bad.toString(), "--data", data.toString(), "--out", tmp.resolve("never-cfg").toString());
            refused("model config field", r, c[2]);
            refused("model config field", run("info", "--config", bad.toString()), c[2]);
        }
        Path lowrank = tmp.resolve("lowrank-nblocks.json");
        Files.writeString(lowrank, "{\"name\": \"lowrank\", \"rank\": 8, \"nblocks\": 4}");
        refused("method field that does not apply", run(concat(train(tmp.resolve("never-cfg")), "--method", lowrank.toString())),
                "field 'nblocks' does not apply to lowrank");
        Path shuffle = tmp.resolve("shuffle-rank.json");
        Files.writeString(shuffle, "{\"name\": \"blockshuffle\", \"nblocks\": 2, \"rank\": 8}");
        refused("method field that does not apply", run("info", "--config", model.toString(), "--method", shuffle.toString()),
                "field 'rank' does not apply to blockshuffle");
        Path wide = tmp.resolve("blockdense-wide.json");
        Files.writeString(wide, "{\"name\": \"blockdense\", \"nblocks\": 4, \"rank\": 1073741824}");
        refused("method rank beyond the model", run("info", "--config", model.toString(), "--method", wide.toString()),
                "field 'rank' (1073741824) exceeds the smaller FFN width");
        Path trainCfg = tmp.resolve("train.json");
        for (String t : List.of("{\"lr\": 1e999}", "{\"tokens\": -10}", "{\"tokens\": 99999999999999999}",
                "{\"batch_size\": 4294967296}",
                "{\"steps\": 2147483647, \"self_guided\": {\"mode\": \"fixedflop\", \"max_step_ratio\": 0.5}}")) {
            Files.writeString(trainCfg, t);
            refused("training config field", run(concat(withoutSteps(train(tmp.resolve("never-cfg"))), "--train-config",
                    trainCfg.toString())), "train.json");
        }
        assertFalse(Files.exists(tmp.resolve("never-cfg")));
        TRIED.merge("self-guided option without self-guided (warning)", 1, Integer::sum);
        Run w = run(train(tmp.resolve("guide-warning"), "--self-guided=false", "--guide-ratio", "0.3"));
        assertEquals(0, w.code(), w.err());
        assertTrue(w.out().contains("warning: --guide-ratio, --guide-schedule, --guide-mode and --reduce-flop do not apply"), w.out());
        TRIED.merge("--stop-at-step past the run (note)", 1, Integer::sum);
        Run past = run(train(tmp.resolve("stop-past"), "--stop-at-step", "9"));
        assertEquals(0, past.code(), past.err());
        assertTrue(past.out().contains("note: --stop-at-step 9 is past the run's 2 steps"), past.out());
    }

    @Test
    void damagedOrMismatchedCheckpointsAreRefusedNotUsed() throws Exception {
        Path ck = tmp.resolve("damaged");
        assertEquals(0, run(train(ck, "--steps", "3", "--stop-at-step", "2")).code());
        Path st = ck.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(st);
        byte[] poisoned = bytes.clone();
        long headerLen = java.nio.ByteBuffer.wrap(bytes, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        int at = (int) (8 + headerLen + 12);
        java.nio.ByteBuffer.wrap(poisoned, at, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putFloat(Float.NaN);
        Files.write(st, poisoned);
        refused("NaN weight in a checkpoint", run("eval", "--checkpoint", ck.toString(), "--data", data.toString()),
                "the weights are not finite");
        refused("NaN weight in a checkpoint", run("generate", "--checkpoint", ck.toString(), "--prompt", "The"),
                "the weights are not finite");
        java.nio.ByteBuffer.wrap(poisoned, at, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putFloat(Float.NEGATIVE_INFINITY);
        Files.write(st, poisoned);
        refused("Inf weight in a checkpoint", run("train", "--out", ck.toString(), "--resume"), "the weights are not finite");
        Files.write(st, bytes);

        Path state = ck.resolve("trainer_state.json");
        String s = Files.readString(state);
        Files.writeString(state, s.replaceFirst("\"step\" : 2", "\"step\" : 4"));
        refused("trainer state beyond the run", run("train", "--out", ck.toString(), "--resume"), "already at step 4");
        Files.writeString(state, s);

        Path tok = ck.resolve("tokenizer.json");
        String t = Files.readString(tok);
        Files.writeString(tok, "{\"name\": \"gpt2\"}");
        refused("tokenizer mismatch on resume without --data", run("train", "--out", ck.toString(), "--resume"), "tokenizer");
        Files.writeString(tok, "not json");
        refused("tokenizer damaged on resume without --data", run("train", "--out", ck.toString(), "--resume"), "tokenizer.json");
        Files.writeString(tok, t);
        Run ok = run("train", "--out", ck.toString(), "--resume");
        assertEquals(0, ok.code(), "restored files resume: " + ok.err());
    }

    @Test
    void promptsMustBeText() throws Exception {
        Path ck = tmp.resolve("prompts");
        assertEquals(0, run(train(ck)).code());
        refused("invalid UTF-8 prompt", run("generate", "--checkpoint", ck.toString(), "--prompt", "bad \uFFFD byte"),
                "--prompt is not valid UTF-8");
        refused("lone surrogate in a prompt", run("generate", "--checkpoint", ck.toString(), "--prompt", "half \uD800"),
                "--prompt is not valid UTF-8");
    }

    @Test
    void prepareWithoutValidationTrainsAndAnInterruptedPrepareDoesNotBlock() throws Exception {
        Path out = tmp.resolve("noval");
        Files.createDirectories(out);
        Files.write(out.resolve("noval_train_000000.bin.tmp"), new byte[100]); // what a killed prepare leaves
        Run p = run("prepare", "--input", tmp.resolve("texts").toString(), "--tokenizer", "byte", "--out", out.toString(),
                "--no-progress", "--val-fraction", "0");
        TRIED.merge("leftover .tmp of a killed prepare", 1, Integer::sum);
        assertEquals(0, p.code(), p.err());
        assertTrue(p.err().contains("an unfinished shard left by an interrupted prepare"), p.err());
        assertFalse(Files.exists(out.resolve("noval_train_000000.bin.tmp")));
        Run t = run("train", "--config", model.toString(), "--data", out.toString(), "--out", tmp.resolve("noval-run").toString(),
                "--steps", "2", "--batch-size", "2", "--seq-len", "16");
        TRIED.merge("--val-fraction 0 data", 1, Integer::sum);
        assertEquals(0, t.code(), t.err());
        assertTrue(t.out().contains("has no validation shards; the run is not evaluated"), t.out());
        refused("eval on data without validation shards", run("eval", "--checkpoint", tmp.resolve("noval-run").toString(),
                "--data", out.toString()), "has no validation shards");
    }

    @Test
    void runningOutOfMemoryGivesAdviceNotAStackTrace() {
        @picocli.CommandLine.Command(name = "boom")
        class Boom implements java.util.concurrent.Callable<Integer> {
            @Override
            public Integer call() {
                throw new OutOfMemoryError("Java heap space");
            }
        }
        picocli.CommandLine cl = Main.commandLine();
        cl.addSubcommand(new Boom());
        java.io.StringWriter err = new java.io.StringWriter();
        cl.setErr(new java.io.PrintWriter(err, true));
        assertEquals(3, cl.execute("boom"));
        TRIED.merge("out of memory (last resort)", 1, Integer::sum);
        assertTrue(err.toString().startsWith("sffn boom: out of memory (Java may use "), err.toString());
        assertTrue(err.toString().contains("lower the batch size"), err.toString());
    }

    @org.junit.jupiter.api.AfterAll
    static void printTally() {
        int total = TRIED.values().stream().mapToInt(Integer::intValue).sum();
        System.out.println("DataSafetyTest: " + total + " bad inputs tried");
        TRIED.forEach((k, v) -> System.out.println("  " + v + "  " + k));
    }
}
