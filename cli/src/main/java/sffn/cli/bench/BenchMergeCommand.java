package sffn.cli.bench;

import sffn.cli.OptionRanges;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import sffn.cli.BackendOptions;
import sffn.decode.MergeCalibration;
import sffn.decode.MergedWeights;
import sffn.kernels.backend.Backend;
import sffn.nn.Gpt;
import sffn.nn.io.ModelCheckpoint;

/** {@code sffn bench merge}: measures the pre-merge crossover of a checkpoint and caches it beside it. */
@Command(name = "merge", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Measure, per structured FFN shape, from how many tokens the structured form beats its pre-merged"
                + " dense matrix on this backend; caches the result in the checkpoint for 'sffn generate'.")
public final class BenchMergeCommand implements Callable<Integer> {

    @Option(names = "--checkpoint", required = true, paramLabel = "<dir>", description = "Checkpoint directory.")
    Path checkpoint;

    @Option(names = "--max-tokens", description = "Largest token count measured (default 1024).")
    int maxTokens = 1024;

    @Mixin
    BackendOptions backendOptions = new BackendOptions();

    @Override
    public Integer call() throws Exception {
        backendOptions.applyThreads(); // --threads sizes the kernel pool before anything starts it
        OptionRanges.atLeast("--max-tokens", maxTokens, 1);
        Gpt model = ModelCheckpoint.read(checkpoint);
        if (model.structuredFfnLinears().isEmpty()) {
            System.out.println(checkpoint + " has a dense FFN: nothing to merge");
            return 0;
        }
        try (Backend backend = backendOptions.create()) {
            System.out.println("backend: " + backend.describe());
            MergeCalibration.Table t = MergeCalibration.measure(model, new MergedWeights(model), backend, maxTokens,
                    System.out::println);
            t.crossovers().forEach((k, v) -> System.out.printf(Locale.ROOT, "%-26s structured from %s tokens on, merged below%n",
                    k, v == Integer.MAX_VALUE ? "(never: always merged)" : v.toString()));
            Path file = checkpoint.resolve(MergeCalibration.FILE);
            MergeCalibration.save(file, t);
            System.out.println("saved " + file);
        }
        return 0;
    }
}
