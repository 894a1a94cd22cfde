package sffn.cli;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import sffn.decode.CompactWeights;
import sffn.decode.FfnPath;
import sffn.decode.Generator;
import sffn.decode.KvCacheTensors;
import sffn.decode.MergeCalibration;
import sffn.decode.MergePolicy;
import sffn.decode.MergedWeights;
import sffn.decode.Sampler;
import sffn.kernels.WeightFormat;
import sffn.kernels.backend.Backend;
import sffn.nn.Gpt;
import sffn.nn.MemoryEstimate;
import sffn.nn.io.ModelCheckpoint;
import sffn.nn.tokenizer.StreamingDecoder;
import sffn.nn.tokenizer.Tokenizer;
import sffn.nn.tokenizer.TokenizerInfo;

/** {@code sffn generate}: text from a checkpoint, streamed as it is produced. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Generate text from a checkpoint with a KV cache, streaming it as it is produced.")
public final class GenerateCommand implements Callable<Integer> {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--checkpoint", required = true, paramLabel = "<dir>", description = "Checkpoint directory.")
    Path checkpoint;

    @Option(names = "--prompt", paramLabel = "<text>", description = "The prompt (required unless --interactive).")
    String prompt;

    @Option(names = "--interactive", description = "Read prompts line by line from standard input.")
    boolean interactive;

    @Option(names = "--max-tokens", paramLabel = "<n>", description = "Tokens to generate per sequence (default 200); beyond"
            + " the model's context the window slides (with --batch 1).")
    int maxTokens = 200;

    @Option(names = "--temperature", description = "Sampling temperature; 0 is greedy (default 0.8).")
    double temperature = 0.8;

    @Option(names = "--top-k", description = "Sample among the k most likely tokens (0: all; default 0).")
    int topK;

    @Option(names = "--top-p", description = "Sample among the smallest set of tokens whose probability reaches p (default 1).")
    double topP = 1.0;

    @Option(names = "--seed", description = "Sampling seed (default 0).")
    long seed;

    @Option(names = "--batch", description = "Sequences generated together from the prompt (default 1).")
    int batch = 1;

    @Option(names = "--stop", paramLabel = "<text>", description = "End the text where it produces this string (left out"
            + " of the output); may be given several times. Escapes \\n and \\t are understood.")
    java.util.List<String> stop = new java.util.ArrayList<>();

    @Option(names = "--ffn-path", paramLabel = "auto|merged|structured",
            description = "Structured FFN form: auto picks per token count by a measured crossover (default auto).")
    FfnPath ffnPath = FfnPath.AUTO;

    @Mixin
    WeightsOption weightsOption = new WeightsOption();

    @Mixin
    KvCacheOption kvCacheOption = new KvCacheOption();

    @Mixin
    BackendOptions backendOptions = new BackendOptions();

    @Override
    public Integer call() throws Exception {
        backendOptions.applyThreads(); // --threads sizes the kernel pool before anything starts it
        if (prompt == null && !interactive) throw new IllegalArgumentException("give --prompt \"...\" or --interactive");
        if (maxTokens < 1 || maxTokens > MAX_TOKENS) {
            throw new IllegalArgumentException("--max-tokens must be between 1 and " + MAX_TOKENS + ", got " + maxTokens);
        }
        if (batch < 1) throw new IllegalArgumentException("--batch must be positive, got " + batch);
        if (prompt != null) requireValidText(prompt, "--prompt");
        Path tokFile = checkpoint.resolve(TokenizerInfo.FILE_NAME);
        if (!Files.isRegularFile(tokFile)) {
            throw new IllegalArgumentException(tokFile + ": missing; the checkpoint does not say which tokenizer it was trained with");
        }
        Tokenizer tokenizer = TokenizerInfo.read(tokFile).tokenizer();
        WeightFormat format = weightsOption.resolve(checkpoint);
        KvCacheTensors.Format cacheFormat = kvCacheOption.resolve();
        new Sampler.Settings(temperature, topK, topP, seed); // validates the options before any work
        Gpt model = ModelCheckpoint.read(checkpoint);
        int context = model.config.maxPositionEmbeddings();
        MemoryEstimate.decoding(model.config, model.method, batch, context, cacheFormat.bytes)
                .require("generating " + batch + " sequence(s) of up to " + context + " tokens", "--batch");
        CompactWeights weights = CompactWeights.of(model, format, checkpoint.resolve(ModelCheckpoint.MODEL));
        // At a prompt, answers wrap near 80 columns (a model may write hundreds of tokens without a newline)
        WordWrapStream wrap = interactive ? new WordWrapStream(System.out, WRAP_AT) : null;
        PrintStream out = new PrintStream(wrap != null ? wrap : System.out, true, StandardCharsets.UTF_8);
        try (Backend backend = backendOptions.create()) {
            MergedWeights merged = new MergedWeights(model);
            weights.withMerged(merged, model);
            MergePolicy policy = MergeCalibration.policyFor(checkpoint, model, merged, weights, backend, ffnPath,
                    Math.max(64, Math.min(1024, model.config.maxPositionEmbeddings() * batch)), System.err::println);
            Generator gen = new Generator(model, backend, merged, policy, weights, cacheFormat);
            Sampler.Settings settings = new Sampler.Settings(temperature, topK, topP, seed);
            if (interactive) {
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                        .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)));
                out.print("> ");
                out.flush();
                try {
                    for (String line = in.readLine(); line != null; line = in.readLine()) {
                        wrap.lineStarted();
                        if (!line.isBlank()) run(gen, tokenizer, line, settings, out);
                        // each answer ends its line (run does), and the prompt starts a new one
                        out.flush();
                        if (wrap.column() != 0) out.println();
                        out.print("> ");
                        out.flush();
                    }
                } catch (java.nio.charset.CharacterCodingException e) {
                    throw new IllegalArgumentException("standard input is not valid UTF-8 text; check the terminal's"
                            + " encoding (LANG/LC_ALL should name UTF-8)");
                }
                out.println();
            } else {
                run(gen, tokenizer, prompt, settings, out);
            }
        }
        return 0;
    }

    /**
     * Refuses text that did not decode cleanly: the JVM turns bytes of a command-line argument that
     * are not valid UTF-8 into U+FFFD, and a lone surrogate cannot be encoded; either would make the
     * model see tokens the user never typed.
     */
    static void requireValidText(String text, String what) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            boolean lone = Character.isHighSurrogate(c) ? i + 1 >= text.length() || !Character.isLowSurrogate(text.charAt(++i))
                    : Character.isLowSurrogate(c);
            if (c == '\uFFFD' || lone) {
                throw new IllegalArgumentException(what + " is not valid UTF-8 text (at character " + i + "); check the"
                        + " terminal's encoding (LANG/LC_ALL should name UTF-8) or pass the text another way");
            }
        }
    }

    /** The most tokens one call generates (the window slides, so only time bounds it otherwise). */
    static final int MAX_TOKENS = 1 << 20;

    /** Interactive answers break at the first space from this column on. */
    static final int WRAP_AT = 72;

    private void run(Generator gen, Tokenizer tokenizer, String text, Sampler.Settings settings, PrintStream out) {
        int[] ids = tokenizer.encode(text);
        int context = gen.model().config.maxPositionEmbeddings();
        if (ids.length == 0) {
            throw new IllegalArgumentException("the prompt encodes to no tokens; give some text");
        }
        if (batch > 1) {
            if ((long) ids.length + maxTokens > context) {
                throw new IllegalArgumentException("the prompt (" + ids.length + " tokens) and --max-tokens " + maxTokens
                        + " exceed the model's context of " + context + " tokens; with --batch 1 the window slides instead");
            }
            runBatch(gen, tokenizer, ids, text, settings, out);
            return;
        }
        // batch 1: when prompt and continuation outgrow the context, the window slides: generation goes on
        // from the last half-context of tokens (prefilled again), as often as needed
        int keep = Math.max(1, context / 2);
        int[] window = ids;
        if (ids.length >= context) {
            window = java.util.Arrays.copyOfRange(ids, ids.length - keep, ids.length);
            err().printf(Locale.ROOT, "note: the prompt has %d tokens, more than the context of %d; generating from"
                    + " its last %d%n", ids.length, context, keep);
        }
        StopStrings stops = new StopStrings(stop, out);
        StreamingDecoder decoder = tokenizer.streamingDecoder();
        out.print(text);
        int remaining = maxTokens;
        int round = 0;
        int promptTokens = 0;
        double prefillSeconds = 0;
        double decodeSeconds = 0;
        int decodeSteps = 0;
        boolean slid = false;
        while (remaining > 0 && !stops.stopped()) {
            if (window.length >= context) {
                window = java.util.Arrays.copyOfRange(window, window.length - keep, window.length);
                if (!slid) {
                    err().printf(Locale.ROOT, "%nnote: the context of %d tokens is full; the window slides (each time"
                            + " generation goes on from the last %d tokens)%n", context, keep);
                    slid = true;
                }
            }
            int n = Math.min(remaining, context - window.length);
            Sampler.Settings s = new Sampler.Settings(settings.temperature(), settings.topK(), settings.topP(),
                    settings.seed() + 1_000_003L * round);
            Generator.Result r = gen.generate(window, 1, n, s, tokenizer.endOfText(), new Generator.TokenSink() {
                @Override
                public void accept(int seq, int tok) {
                    stops.add(decoder.accept(tok));
                    out.flush();
                }

                @Override
                public boolean stop(int seq) {
                    return stops.stopped();
                }
            });
            int[] produced = r.tokens().get(0);
            promptTokens += r.promptTokens();
            prefillSeconds += r.prefillSeconds();
            decodeSeconds += r.decodeSeconds();
            decodeSteps += r.decodeSteps();
            remaining -= produced.length;
            if (produced.length < n || remaining == 0) {
                break; // the end-of-text token, a stop string, or all tokens made (no slide to count)
            }
            int[] next = java.util.Arrays.copyOf(window, window.length + produced.length);
            System.arraycopy(produced, 0, next, window.length, produced.length);
            window = next;
            round++;
        }
        if (!stops.stopped()) {
            stops.add(decoder.finish());
        }
        stops.finish();
        out.println();
        err().printf(Locale.ROOT, "[%s | prefill %d tokens: %,.0f tokens/s | %s%s]%n",
                formats(gen), promptTokens, promptTokens / Math.max(1e-9, prefillSeconds),
                decodeRate(decodeSteps, 1, decodeSteps / Math.max(1e-9, decodeSeconds)),
                round > 0 ? " | window slid " + round + "x" : "");
    }

    /** Notes and the stats line go to standard error, so that standard output holds only the text. */
    private java.io.PrintWriter err() {
        java.io.PrintWriter w = spec.commandLine().getErr();
        w.flush();
        return w;
    }

    private void runBatch(Generator gen, Tokenizer tokenizer, int[] ids, String text, Sampler.Settings settings,
                          PrintStream out) {
        StreamingDecoder first = tokenizer.streamingDecoder();
        out.print(text);
        Generator.Result r = gen.generate(ids, batch, maxTokens, settings, tokenizer.endOfText(), (seq, tok) -> {
            if (seq == 0) {
                out.print(first.accept(tok));
                out.flush();
            }
        });
        out.println(first.finish());
        for (int b = 1; b < r.batch(); b++) {
            out.println("--- sample " + (b + 1) + " ---");
            // decoded as a continuation of the prompt (a stream, as sample 1): tokenizer.decode would drop
            // the leading space of Llama-style tokens
            StreamingDecoder d = tokenizer.streamingDecoder();
            StringBuilder sample = new StringBuilder(text);
            for (int tok : r.tokens().get(b)) {
                sample.append(d.accept(tok));
            }
            out.println(sample.append(d.finish()));
        }
        err().printf(Locale.ROOT, "[%s | prefill %d tokens x %d: %,.0f tokens/s | %s"
                        + " | structured FFN linears merged: %d in prefill, %d per step]%n",
                formats(gen), r.promptTokens(), r.batch(), r.prefillTokensPerSecond(),
                decodeRate(r.decodeSteps(), r.batch(), r.decodeTokensPerSecond()), r.mergedInPrefill(), r.mergedInDecode());
    }

    /** "fp32 weights", and the key/value cache's format where it is not float32. */
    private static String formats(Generator gen) {
        String w = gen.weights().format().label() + " weights";
        return gen.cacheFormat() == KvCacheTensors.Format.FP32 ? w : w + ", " + gen.cacheFormat().label() + " kv cache";
    }

    /** "decode N steps[ x B]: R tokens/s", without a rate when no step ran (nothing to divide). */
    private static String decodeRate(int steps, int batch, double tokensPerSecond) {
        String what = "decode " + steps + " steps" + (batch > 1 ? " x " + batch : "");
        return steps == 0 ? what : String.format(Locale.ROOT, "%s: %,.1f tokens/s", what, tokensPerSecond);
    }
}
