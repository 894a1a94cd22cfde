package sffn.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code sffn} command. */
@Command(name = "sffn", mixinStandardHelpOptions = true, version = "sffn 0.1.0",
        description = "Train and decode transformers with structured feed-forward layers (LowRank, BlockDense, BlockShuffle).",
        subcommands = {
                PrepareCommand.class,
                TrainCommand.class,
                EvalCommand.class,
                PlotCommand.class,
                GenerateCommand.class,
                InfoCommand.class,
                BenchCommand.class,
                DevicesCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured command line, shared by {@link #main} and the tests. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler(new UserErrors());
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        NumberConverters.register(cl);
        return cl;
    }
}
