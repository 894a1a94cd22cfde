package sffn.cli;

import picocli.CommandLine;
import sffn.nn.MemoryEstimate;
import sffn.nn.io.IoErrors;

/**
 * Turns exceptions meant for the user (bad files, bad values, failures of the filesystem) into
 * one clear line on stderr and exit code 2; running out of memory gets the same treatment, with
 * what to lower (exit 3), and so does a bad {@code -D} setting a class reads as it starts (exit 2);
 * anything else is a bug and keeps its stack trace.
 */
final class UserErrors implements CommandLine.IExecutionExceptionHandler {
    @Override
    public int handleExecutionException(Exception ex, CommandLine cmd, CommandLine.ParseResult parseResult) {
        if (ex instanceof java.io.IOException io) {
            cmd.getErr().println("sffn " + cmd.getCommandName() + ": " + IoErrors.describe(io));
            return 2;
        }
        if (ex instanceof java.io.UncheckedIOException u) {
            cmd.getErr().println("sffn " + cmd.getCommandName() + ": " + IoErrors.describe(u.getCause()));
            return 2;
        }
        if (ex instanceof IllegalArgumentException || ex instanceof IllegalStateException) {
            cmd.getErr().println("sffn " + cmd.getCommandName() + ": " + ex.getMessage());
            return 2;
        }
        ex.printStackTrace(cmd.getErr());
        return 1;
    }

    /** A bad command line: one line naming the option and value, and where the options are listed (exit 2). */
    static int badArguments(CommandLine.ParameterException ex, String[] args) {
        CommandLine cmd = ex.getCommandLine();
        String name = cmd.getCommandSpec().qualifiedName();
        cmd.getErr().println(name + ": " + ex.getMessage() + " (see '" + name + " --help')");
        cmd.getErr().flush();
        return cmd.getCommandSpec().exitCodeOnInvalidInput();
    }

    /** Runs the command; an {@link OutOfMemoryError} (the estimates before allocation missed) becomes advice, exit 3. */
    static int outOfMemoryAsAdvice(CommandLine.ParseResult parseResult) {
        try {
            return new CommandLine.RunLast().execute(parseResult);
        } catch (OutOfMemoryError e) {
            CommandLine cmd = leaf(parseResult).commandSpec().commandLine();
            cmd.getErr().println("sffn " + cmd.getCommandName() + ": " + MemoryEstimate.outOfMemoryAdvice());
            cmd.getErr().flush();
            return 3;
        } catch (ExceptionInInitializerError e) {
            // A bad -D setting read when a class starts (-Dsffn.threads, -Dsffn.serialWork): one line, exit 2.
            if (!(e.getCause() instanceof IllegalArgumentException bad)) throw e;
            CommandLine cmd = leaf(parseResult).commandSpec().commandLine();
            cmd.getErr().println("sffn " + cmd.getCommandName() + ": " + bad.getMessage());
            cmd.getErr().flush();
            return 2;
        }
    }

    private static CommandLine.ParseResult leaf(CommandLine.ParseResult r) {
        while (r.subcommand() != null) r = r.subcommand();
        return r;
    }
}
