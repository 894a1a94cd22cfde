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
import sffn.decode.FfnPath;
import sffn.decode.Generator;
import sffn.decode.MergeCalibration;
import sffn.decode.MergePolicy;
import sffn.decode.MergedWeights;
import sffn.decode.Sampler;
import sffn.kernels.backend.Backend;
import sffn.nn.Gpt;
import sffn.nn.io.ModelCheckpoint;
import sffn.nn.tokenizer.StreamingDecoder;
import sffn.nn.tokenizer.Tokenizer;
import sffn.nn.tokenizer.TokenizerInfo;

/** {@code sffn generate}: text from a checkpoint, streamed as it is produced. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Generate text from a checkpoint with a KV cache, streaming it as it is produced.")
public final class GenerateCommand implements Callable<Integer> {

    @Option(names = "--checkpoint", required = true, paramLabel = "<dir>", description = "Checkpoint directory.")
    Path checkpoint;

    @Option(names = "--prompt", paramLabel = "<text>", description = "The prompt (required unless --interactive).")
    String prompt;

    @Option(names = "--interactive", description = "Read prompts line by line from standard input.")
    boolean interactive;

    @Option(names = "--max-tokens", paramLabel = "<n>", description = "Tokens to generate per sequence (default 200).")
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

    @Option(names = "--ffn-path", paramLabel = "auto|merged|structured",
            description = "Structured FFN form: auto picks per token count by a measured crossover (default auto).")
    FfnPath ffnPath = FfnPath.AUTO;

    @Mixin
    BackendOptions backendOptions = new BackendOptions();

    @Override
    public Integer call() throws Exception {
        if (prompt == null && !interactive) throw new IllegalArgumentException("give --prompt \"...\" or --interactive");
        Path tokFile = checkpoint.resolve(TokenizerInfo.FILE_NAME);
        if (!Files.isRegularFile(tokFile)) {
            throw new IllegalArgumentException(tokFile + ": missing; the checkpoint does not say which tokenizer it was trained with");
        }
        Tokenizer tokenizer = TokenizerInfo.read(tokFile).tokenizer();
        Gpt model = ModelCheckpoint.read(checkpoint);
        new Sampler.Settings(temperature, topK, topP, seed); // validates the options before any work
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try (Backend backend = backendOptions.create()) {
            MergedWeights merged = new MergedWeights(model);
            MergePolicy policy = MergeCalibration.policyFor(checkpoint, model, merged, backend, ffnPath,
                    Math.max(64, Math.min(1024, model.config.maxPositionEmbeddings() * batch)), System.err::println);
            Generator gen = new Generator(model, backend, merged, policy);
            Sampler.Settings settings = new Sampler.Settings(temperature, topK, topP, seed);
            if (interactive) {
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
                out.print("> ");
                out.flush();
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    if (!line.isBlank()) run(gen, tokenizer, line, settings, out);
                    out.print("> ");
                    out.flush();
                }
                out.println();
            } else {
                run(gen, tokenizer, prompt, settings, out);
            }
        }
        return 0;
    }

    private void run(Generator gen, Tokenizer tokenizer, String text, Sampler.Settings settings, PrintStream out) {
        int[] ids = tokenizer.encode(text);
        int context = gen.model().config.maxPositionEmbeddings();
        if (ids.length + maxTokens > context) {
            throw new IllegalArgumentException("the prompt (" + ids.length + " tokens) and --max-tokens " + maxTokens
                    + " exceed the model's context of " + context + " tokens");
        }
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
        out.printf(Locale.ROOT, "[prefill %d tokens x %d: %,.0f tokens/s | decode %d steps x %d: %,.1f tokens/s | structured FFN"
                        + " linears merged: %d in prefill, %d per step]%n",
                r.promptTokens(), r.batch(), r.prefillTokensPerSecond(), r.decodeSteps(), r.batch(),
                r.decodeTokensPerSecond(), r.mergedInPrefill(), r.mergedInDecode());
    }
}
