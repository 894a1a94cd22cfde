package sffn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import sffn.train.TrainConfig;

/** {@code sffn train --help} shows the default of every training option, and the cadence defaults are not "only at the end". */
class TrainHelpTest {
    @Test
    void helpShowsEveryDefaultAndAPeriodicCadence() {
        StringWriter out = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        assertEquals(0, cl.execute("train", "--help"));
        String help = out.toString().replaceAll("\\s+", " ");
        for (String option : new String[] {"--steps", "--batch-size", "--seq-len", "--grad-accum", "--lr", "--min-lr-ratio",
                "--warmup-ratio", "--beta1", "--beta2", "--eps", "--weight-decay", "--grad-clip", "--seed", "--eval-every",
                "--eval-windows", "--save-every", "--dry-run-steps"}) {
            // an option's entry reads "--steps=<steps> description", up to the next entry's "=<"
            int at = help.lastIndexOf(option + "=<"); // the entry, not the synopsis
            assertTrue(at >= 0, option + " missing from: " + help);
            int next = help.indexOf("=<", at + option.length() + 2);
            String text = help.substring(at, next < 0 ? help.length() : next);
            assertTrue(text.contains("default"), option + " shows no default: " + text);
        }
        assertTrue(TrainConfig.DEFAULT_EVAL_EVERY > 0 && TrainConfig.DEFAULT_SAVE_EVERY > 0, "cadence only at the end");
        assertTrue(help.contains("default " + TrainConfig.DEFAULT_EVAL_EVERY + ")"), help);
        assertEquals(TrainConfig.DEFAULT_EVAL_EVERY, TrainConfig.defaults().evalEvery());
        assertEquals(TrainConfig.DEFAULT_SAVE_EVERY, TrainConfig.defaults().saveEvery());
    }
}
