package sffn.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The commands as a user runs them: prepare, info, train, resume, eval, generate, plot, export, and their errors. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CommandsEndToEndTest {
    @TempDir
    static Path tmp;
    static Path data;
    static Path model;
    static Path method;

    record Run(int code, String out, String err) {
    }

    static Run run(String... args) {
        PrintStream oldOut = System.out;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        StringWriter err = new StringWriter();
        StringWriter out = new StringWriter();
        try {
            System.setOut(new PrintStream(bytes, true, StandardCharsets.UTF_8));
            CommandLine cl = Main.commandLine();
            cl.setOut(new PrintWriter(out, true));
            cl.setErr(new PrintWriter(err, true));
            int code = cl.execute(args);
            return new Run(code, out + bytes.toString(StandardCharsets.UTF_8), err.toString());
        } finally {
            System.setOut(oldOut);
        }
    }

    @BeforeAll
    static void corpusAndConfigs() throws Exception {
        Path texts = Files.createDirectories(tmp.resolve("texts"));
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 400; i++) sb.append("The jury said the election was conducted well, number ").append(i % 17).append(".\n");
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
        method = tmp.resolve("lowrank.json");
        Files.writeString(method, "{\"name\": \"lowrank\", \"rank\": 8, \"first_layer_dense\": false}");
    }

    @Test
    @Order(1)
    void infoPrintsTheTable1RowOfTheConfig() {
        Run r = run("info", "--config", "../configs/model/transformer-xl.json", "--method", "../configs/method/xl/lowrank-32.json",
                "--tokens", "25.5e9");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("(744M)"), r.out());
        assertTrue(r.out().contains("(275M), 34.1% of dense FFN"), r.out());
        assertTrue(r.out().contains("1.29e+20 FLOPs for 2.550e+10 tokens"), r.out());
    }

    @Test
    @Order(2)
    void trainStopResumeEvalGeneratePlot() throws Exception {
        Path ckpt = tmp.resolve("ckpt");
        String[] train = {"train", "--config", model.toString(), "--method", method.toString(), "--data", data.toString(),
                "--out", ckpt.toString(), "--steps", "6", "--batch-size", "4", "--seq-len", "32", "--eval-windows", "8",
                "--self-guided", "--guide-mode", "fixedflop", "--lr", "3e-3"};
        Run first = run(concat(train, "--stop-at-step", "4"));
        assertEquals(0, first.code(), first.err());
        assertTrue(first.out().contains("done: step 4 of 9"), first.out());
        Run again = run(train);
        assertEquals(2, again.code());
        assertTrue(again.err().contains("already holds a checkpoint; pass --resume"), again.err());
        Run resumed = run("train", "--out", ckpt.toString(), "--resume");
        assertEquals(0, resumed.code(), resumed.err());
        assertTrue(resumed.out().contains("resuming at step 4"), resumed.out());
        assertTrue(resumed.out().contains("done: step 9 of 9"), resumed.out());
        for (String f : List.of("config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json", "metrics.jsonl",
                "tokenizer.json")) {
            assertTrue(Files.isRegularFile(ckpt.resolve(f)), f);
        }
        assertEquals(9 + 1, Files.readAllLines(ckpt.resolve("metrics.jsonl")).size(), "9 steps and the final evaluation");

        Run eval = run("eval", "--checkpoint", ckpt.toString(), "--data", data.toString(), "--json", "--max-windows", "4");
        assertEquals(0, eval.code(), eval.err());
        JsonNode j = new ObjectMapper().readTree(eval.out());
        assertTrue(j.get("val_loss").asDouble() > 0 && j.get("val_loss").asDouble() < Math.log(256), eval.out());
        assertEquals(4 * 32, j.get("tokens").asInt());

        Run gen = run("generate", "--checkpoint", ckpt.toString(), "--prompt", "The jury", "--max-tokens", "12",
                "--temperature", "0", "--ffn-path", "merged");
        assertEquals(0, gen.code(), gen.err());
        assertTrue(gen.out().startsWith("The jury"), gen.out());
        assertTrue(gen.err().contains("[fp32 weights | prefill 8 tokens"), "the stats line is on stderr: " + gen.err());
        assertTrue(!gen.err().contains("slid"), "12 tokens within the context do not slide: " + gen.err());
        Run gen2 = run("generate", "--checkpoint", ckpt.toString(), "--prompt", "The jury", "--max-tokens", "12",
                "--temperature", "0", "--ffn-path", "structured");
        assertEquals(gen.out().lines().findFirst(), gen2.out().lines().findFirst(), "both FFN forms decode the same greedy text");
        // A bfloat16 key/value cache: named in the stats line; an unknown format is refused by name.
        Run genBf16 = run("generate", "--checkpoint", ckpt.toString(), "--prompt", "The jury", "--max-tokens", "12",
                "--temperature", "0", "--kv-cache", "bf16");
        assertEquals(0, genBf16.code(), genBf16.err());
        assertTrue(genBf16.out().startsWith("The jury"), genBf16.out());
        assertTrue(genBf16.err().contains("[fp32 weights, bf16 kv cache | prefill 8 tokens"), genBf16.err());
        Run badCache = run("generate", "--checkpoint", ckpt.toString(), "--prompt", "The jury", "--kv-cache", "int8");
        assertEquals(2, badCache.code(), badCache.err());
        assertTrue(badCache.err().contains("unknown key/value cache format 'int8'; use fp32 or bf16"), badCache.err());

        // beyond the context of 64 tokens the window slides; greedy decoding is deterministic
        Run slide = run("generate", "--checkpoint", ckpt.toString(), "--prompt", "The jury", "--max-tokens", "150",
                "--temperature", "0");
        assertEquals(0, slide.code(), slide.err());
        assertTrue(slide.err().contains("the window slides"), slide.err());
        assertTrue(slide.err().contains("window slid"), slide.err());
        assertTrue(slide.out().startsWith(gen.out().strip()), "the first 12 tokens are those of the short run");
        // a stop string ends the text before it
        String continuation = slide.out().substring("The jury".length());
        int at = 1;
        while (at < continuation.length() && Character.isWhitespace(continuation.charAt(at))) {
            at++;
        }
        if (at < continuation.length()) {
            String stop = continuation.substring(at, at + 1);
            Run stopped = run("generate", "--checkpoint", ckpt.toString(), "--prompt", "The jury", "--max-tokens", "150",
                    "--temperature", "0", "--stop", stop);
            assertEquals(0, stopped.code(), stopped.err());
            assertEquals("The jury" + continuation.substring(0, continuation.indexOf(stop)) + System.lineSeparator(),
                    stopped.out());
        }

        Path png = tmp.resolve("loss.png");
        Run plot = run("plot", "--runs", ckpt.toString(), "--out", png.toString());
        assertEquals(0, plot.code(), plot.err());
        byte[] magic = java.util.Arrays.copyOf(Files.readAllBytes(png), 4);
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, magic);
    }

    @Test
    @Order(3)
    void userErrorsNameWhatIsWrong() {
        Run r = run("train", "--config", tmp.resolve("missing.json").toString(), "--data", data.toString(), "--out",
                tmp.resolve("x").toString());
        assertEquals(2, r.code());
        assertEquals("sffn train: " + tmp.resolve("missing.json") + ": no such file", r.err().strip());
        Run e = run("eval", "--checkpoint", tmp.resolve("nothing").toString(), "--data", data.toString());
        assertEquals(2, e.code());
        assertTrue(e.err().contains("does not exist"), e.err());
    }

    /** --profile prints the time per kind of kernel when the backend closes (System.err), and only with the option. */
    @Test
    @Order(3)
    void profilePrintsTheTimePerKindOfKernel() {
        String[] train = {"train", "--config", model.toString(), "--data", data.toString(), "--steps", "4", "--batch-size", "2",
                "--seq-len", "16", "--eval-windows", "2"};
        withCapturedErr(bytes -> {
            assertEquals(0, run(concat(train, "--out", tmp.resolve("profiled").toString(), "--profile")).code());
            String profiled = bytes.toString(StandardCharsets.UTF_8);
            assertTrue(profiled.contains("time per kernel call kind (--profile, training steps after the first 3"), profiled);
            assertTrue(profiled.matches("(?s).*\\nMatmulForward +[0-9.]+ ms +[0-9.]+% +[0-9]+ calls\\n.*"), profiled);
            bytes.reset();
            assertEquals(0, run(concat(train, "--out", tmp.resolve("plain").toString())).code());
            String plain = bytes.toString(StandardCharsets.UTF_8);
            assertTrue(!plain.contains("--profile"), plain);
        });
    }

    /**
     * A dry run's profile counts the timed steps after the first, nothing else: three timed steps
     * make exactly twice the calls of two (the first step, run while the JIT warms up, and the
     * checkpoint's probe forward after the last would break that).
     */
    @Test
    @Order(3)
    void dryRunProfileCountsTheStepsAfterTheFirst() {
        withCapturedErr(bytes -> {
            int[][] calls = new int[2][];
            for (int steps = 2; steps <= 3; steps++) {
                bytes.reset();
                Run r = run("train", "--config", model.toString(), "--data", data.toString(), "--batch-size", "2",
                        "--seq-len", "16", "--out", tmp.resolve("dry" + steps).toString(), "--dry-run", "--dry-run-steps",
                        Integer.toString(steps), "--profile");
                assertEquals(0, r.code(), r.err());
                assertTrue(r.out().contains("profile:  the steps after the first"), r.out());
                calls[steps - 2] = new int[] {calls(bytes, "MatmulForward"), calls(bytes, "MatmulBackwardInput")};
            }
            assertTrue(calls[0][0] > 0, "no MatmulForward call in the profile of one step");
            assertEquals(2 * calls[0][0], calls[1][0], "MatmulForward calls over two steps against one");
            assertEquals(2 * calls[0][1], calls[1][1], "MatmulBackwardInput calls over two steps against one");
            assertEquals(calls[0][0], calls[0][1], "a step's forward and backward-input products");
        });
    }

    /**
     * A run's profile on the CPU counts the steps after the first three of the invocation and
     * nothing else: with an evaluation after every step and the checkpoint at the end, five steps
     * make exactly twice the calls of four; three steps show nothing, and say why.
     */
    @Test
    @Order(3)
    void trainProfileCountsTheStepsAfterTheWarmUpWithoutEvaluations() {
        withCapturedErr(bytes -> {
            int[][] calls = new int[2][];
            for (int steps = 3; steps <= 5; steps++) {
                bytes.reset();
                Run r = run("train", "--config", model.toString(), "--data", data.toString(), "--batch-size", "2",
                        "--seq-len", "16", "--out", tmp.resolve("profiled" + steps).toString(), "--steps",
                        Integer.toString(steps), "--eval-every", "1", "--eval-windows", "1", "--save-every", "0",
                        "--profile");
                assertEquals(0, r.code(), r.err());
                String err = bytes.toString(StandardCharsets.UTF_8);
                if (steps == 3) {
                    assertTrue(r.out().contains("--profile: the kernel times count the steps after the first 3"), r.out());
                    assertTrue(!err.contains("time per kernel call kind"), err);
                    continue;
                }
                assertTrue(err.contains("(--profile, training steps after the first 3 of this invocation, without"
                        + " evaluations and checkpoints)"), err);
                calls[steps - 4] = new int[] {calls(bytes, "MatmulForward"), calls(bytes, "CrossEntropyForwardBackward")};
            }
            assertEquals(1, calls[0][1], "the loss's calls in one profiled step");
            assertEquals(2, calls[1][1], "the loss's calls in two profiled steps");
            assertEquals(2 * calls[0][0], calls[1][0], "MatmulForward calls over two steps against one");
        });
    }

    /** Runs {@code body} with System.err going to the stream it is given (the profile's table goes there). */
    private static void withCapturedErr(java.util.function.Consumer<ByteArrayOutputStream> body) {
        PrintStream oldErr = System.err;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try {
            System.setErr(new PrintStream(bytes, true, StandardCharsets.UTF_8));
            body.accept(bytes);
        } finally {
            System.setErr(oldErr);
        }
    }

    /** The calls of one kind in the profile printed to {@code err}. */
    private static int calls(ByteArrayOutputStream err, String kind) {
        String row = "\\n" + kind + " +[0-9.]+ ms +[0-9.]+% +([0-9]+) calls\\n";
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(row).matcher(err.toString(StandardCharsets.UTF_8));
        assertTrue(m.find(), kind + " not in the profile: " + err.toString(StandardCharsets.UTF_8));
        return Integer.parseInt(m.group(1));
    }

    /** Export to bf16 and int8; generate and eval read the exports, and --weights gives the same on the float checkpoint. */
    @Test
    @Order(4)
    void exportThenDecodeAndEvaluateWithCompactWeights() throws Exception {
        Path ckpt = tmp.resolve("ckpt");
        for (String w : List.of("bf16", "int8")) {
            Path out = tmp.resolve("export-" + w);
            Run ex = run("export", "--checkpoint", ckpt.toString(), "--weights", w, "--out", out.toString());
            assertEquals(0, ex.code(), ex.err());
            assertTrue(ex.out().contains(w + " weights"), ex.out());
            String[] gen = {"--prompt", "The jury", "--max-tokens", "10", "--temperature", "0", "--ffn-path", "structured"};
            Run fromExport = run(concat(new String[] {"generate", "--checkpoint", out.toString()}, gen));
            assertEquals(0, fromExport.code(), fromExport.err());
            assertTrue(fromExport.err().contains("[" + w + " weights"), fromExport.err());
            Run fromFloat = run(concat(new String[] {"generate", "--checkpoint", ckpt.toString(), "--weights", w}, gen));
            assertEquals(0, fromFloat.code(), fromFloat.err());
            assertEquals(fromFloat.out().lines().findFirst(), fromExport.out().lines().findFirst(),
                    "the export decodes as --weights " + w + " on the float checkpoint");
            Run e1 = run("eval", "--checkpoint", out.toString(), "--data", data.toString(), "--json", "--max-windows", "4");
            Run e2 = run("eval", "--checkpoint", ckpt.toString(), "--weights", w, "--data", data.toString(), "--json",
                    "--max-windows", "4");
            assertEquals(0, e1.code(), e1.err());
            assertEquals(0, e2.code(), e2.err());
            JsonNode j1 = new ObjectMapper().readTree(e1.out());
            assertEquals(w, j1.get("weights").asText());
            assertEquals(j1.get("val_loss").asDouble(), new ObjectMapper().readTree(e2.out()).get("val_loss").asDouble(), 1e-6);
            Run again = run("export", "--checkpoint", ckpt.toString(), "--weights", w, "--out", out.toString());
            assertEquals(2, again.code());
            assertTrue(again.err().contains("exists"), again.err());
        }
        Run bad = run("generate", "--checkpoint", ckpt.toString(), "--prompt", "x", "--weights", "fp8");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("unknown weight format 'fp8'; use fp32, bf16 or int8"), bad.err());
    }

    /**
     * What compression costs on the model trained above (issue 15's bounds): validation perplexity
     * (32 windows) within 0.2% of float32 in bf16 and 1.5% in int8, and greedy text from bf16 the
     * same as from float32 for 32 tokens.
     */
    @Test
    @Order(5)
    void compactWeightsKeepTheTrainedModelsQuality() throws Exception {
        Path ckpt = tmp.resolve("ckpt");
        double[] ppl = new double[3];
        String[] text = new String[3];
        List<String> formats = List.of("fp32", "bf16", "int8");
        for (int i = 0; i < 3; i++) {
            Run e = run("eval", "--checkpoint", ckpt.toString(), "--weights", formats.get(i), "--data", data.toString(), "--json",
                    "--max-windows", "32");
            assertEquals(0, e.code(), e.err());
            ppl[i] = new ObjectMapper().readTree(e.out()).get("val_ppl").asDouble();
            Run g = run("generate", "--checkpoint", ckpt.toString(), "--weights", formats.get(i), "--prompt", "The jury",
                    "--max-tokens", "32", "--temperature", "0", "--ffn-path", "structured");
            assertEquals(0, g.code(), g.err());
            assertTrue(g.out().startsWith("The jury") && g.err().matches("(?s).*decode 3[12] steps.*"),
                    "32 tokens follow the prompt: " + g.err());
            text[i] = g.out();
        }
        // One token is the prefill's alone: no decode step, so no rate (it used to print NaN tokens/s).
        Run one = run("generate", "--checkpoint", ckpt.toString(), "--prompt", "The jury", "--max-tokens", "1");
        assertEquals(0, one.code(), one.err());
        assertTrue(one.err().contains("| decode 0 steps]") && !one.err().contains("NaN"), one.err());
        assertTrue(Math.abs(ppl[1] / ppl[0] - 1) <= 0.002, "bf16 perplexity " + ppl[1] + " against fp32 " + ppl[0]);
        assertTrue(Math.abs(ppl[2] / ppl[0] - 1) <= 0.015, "int8 perplexity " + ppl[2] + " against fp32 " + ppl[0]);
        assertEquals(text[0], text[1], "greedy text from bf16 weights");
    }

    static String[] concat(String[] a, String... b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
