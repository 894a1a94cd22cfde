package sffn.cli;

import picocli.CommandLine.Command;

/** {@code sffn bench}: portable benchmarks of this runtime's kernels and layers. */
@Command(name = "bench", description = "Benchmark kernels and FFN layers on the chosen backend.",
        mixinStandardHelpOptions = true, subcommands = {
                sffn.cli.bench.BenchKernelsCommand.class,
                sffn.cli.bench.BenchFfnCommand.class,
                sffn.cli.bench.BenchMergeCommand.class,
                sffn.cli.bench.BenchDecodeCommand.class,
                sffn.cli.bench.BenchScalingCommand.class})
public final class BenchCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
