package sffn.cli;

import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;
import sffn.decode.CompactExport;
import sffn.kernels.WeightFormat;

/** {@code --weights}, for the commands that read a checkpoint to decode or evaluate it ({@code @Mixin}). */
public final class WeightsOption {
    @Option(names = "--weights", paramLabel = "fp32|bf16|int8",
            description = "Weight format of the products: fp32, bf16, or int8 with a scale per 32 inputs"
                    + " (default: the format the checkpoint was written in; sffn export writes bf16 and int8 ones).")
    String weights;

    /** The format asked for, else the checkpoint's own. */
    public WeightFormat resolve(Path checkpoint) throws IOException {
        return weights != null ? WeightFormat.parse(weights) : CompactExport.storedFormat(checkpoint);
    }
}
