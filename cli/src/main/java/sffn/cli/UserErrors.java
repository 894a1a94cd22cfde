package sffn.cli;

import picocli.CommandLine;

/**
 * Turns exceptions meant for the user (bad files, bad values) into one clear line on stderr and
 * exit code 2; anything else is a bug and keeps its stack trace.
 */
final class UserErrors implements CommandLine.IExecutionExceptionHandler {
    @Override
    public int handleExecutionException(Exception ex, CommandLine cmd, CommandLine.ParseResult parseResult) {
        if (ex instanceof IllegalArgumentException || ex instanceof java.io.IOException
                || ex instanceof IllegalStateException || ex instanceof java.io.UncheckedIOException) {
            cmd.getErr().println("sffn " + cmd.getCommandName() + ": " + ex.getMessage());
            return 2;
        }
        ex.printStackTrace(cmd.getErr());
        return 1;
    }
}
