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
                ExportCommand.class,
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
        // Every floating-point option of every command: NaN and infinities are never a setting.
        cl.registerConverter(Double.class, Main::finite);
        cl.registerConverter(double.class, Main::finite);
        // Counts may be written 1e4 or 25.5e9.
        NumberConverters.register(cl);
        cl.setExecutionStrategy(UserErrors::outOfMemoryAsAdvice);
        cl.setParameterExceptionHandler(UserErrors::badArguments);
        return cl;
    }

    static Double finite(String text) {
        double v;
        try {
            v = Double.parseDouble(text.strip());
        } catch (NumberFormatException e) {
            throw new CommandLine.TypeConversionException("'" + text + "' is not a number");
        }
        if (!Double.isFinite(v)) throw new CommandLine.TypeConversionException("'" + text + "' is not a finite number");
        return v;
    }
}
