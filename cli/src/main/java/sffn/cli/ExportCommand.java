package sffn.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sffn.decode.CompactExport;
import sffn.kernels.WeightFormat;

/** {@code sffn export}: a checkpoint as a decode checkpoint with bf16 or int8 weights. */
@Command(name = "export", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Write a checkpoint's model as a decode checkpoint with compact weights: safetensors with BF16,"
                + " or I8 <name> plus F32 <name>.scale (one scale per 32 inputs), for generate and eval.",
                "Training state is not copied: an exported checkpoint decodes, it does not resume."})
public final class ExportCommand implements Callable<Integer> {

    @Option(names = "--checkpoint", required = true, paramLabel = "<dir>", description = "Checkpoint directory to read.")
    Path checkpoint;

    @Option(names = "--weights", required = true, paramLabel = "bf16|int8", description = "Weight format to write.")
    String weights;

    @Option(names = "--out", required = true, paramLabel = "<dir>", description = "New directory to write (must not exist).")
    Path out;

    @Override
    public Integer call() throws Exception {
        WeightFormat f = WeightFormat.parse(weights);
        long t0 = System.nanoTime();
        CompactExport.write(checkpoint, out, f);
        long bytes = java.nio.file.Files.size(out.resolve(sffn.nn.io.ModelCheckpoint.MODEL));
        System.out.printf(Locale.ROOT, "wrote %s: %s weights, model.safetensors %.1f MB, in %.1f s%n", out, f.label(),
                bytes / 1e6, (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
