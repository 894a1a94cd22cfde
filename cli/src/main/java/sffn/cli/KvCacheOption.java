package sffn.cli;

import picocli.CommandLine.Option;
import sffn.decode.KvCacheTensors;

/** {@code --kv-cache}, for the commands that decode with a key/value cache ({@code @Mixin}). */
public final class KvCacheOption {
    @Option(names = "--kv-cache", paramLabel = "fp32|bf16",
            description = "Key/value cache format: fp32, or bf16 (half the bytes that each decode step reads at long"
                    + " contexts; keys and values rounded to nearest even) (default fp32).")
    String format = "fp32";

    public KvCacheTensors.Format resolve() {
        return KvCacheTensors.Format.parse(format);
    }
}
