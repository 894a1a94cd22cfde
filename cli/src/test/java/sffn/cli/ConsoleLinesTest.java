package sffn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Messages and the status line never share a line; into a pipe there is no status line and no '\r'. */
class ConsoleLinesTest {
    private static final String ERASE = "\r\033[K";

    @Test
    void aMessageErasesTheStatusPrintsItsOwnLineAndRedrawsTheStatus() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        ConsoleLines c = new ConsoleLines(out, out, true);
        c.status("train 10%", true);
        c.message("eval at step 1");
        c.clearStatus();
        c.message("done");
        assertEquals(ERASE + "train 10%" + ERASE + "eval at step 1\n" + ERASE + "train 10%" + ERASE + "done\n",
                bytes.toString(StandardCharsets.UTF_8));
    }

    @Test
    void intoAPipeOnlyTheMessagesArePrinted() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        ConsoleLines c = new ConsoleLines(out, out, false);
        c.status("train 10%", true);
        c.message("eval at step 1");
        c.status("train 20%", true);
        c.error("SIGINT: stopping");
        c.clearStatus();
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertEquals("eval at step 1\nSIGINT: stopping\n", text);
        assertFalse(text.contains("\r"));
    }

    @Test
    void concurrentStatusAndMessagesNeverMixOnALine() throws InterruptedException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        ConsoleLines c = new ConsoleLines(out, out, true);
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            int id = t;
            threads.add(Thread.ofPlatform().start(() -> {
                for (int i = 0; i < 200; i++) {
                    if (id % 2 == 0) c.status("status " + id + " " + i, true);
                    else c.message("message " + id + " " + i);
                }
            }));
        }
        for (Thread t : threads) t.join();
        c.clearStatus();
        String text = bytes.toString(StandardCharsets.UTF_8);
        String[] lines = text.split("\n", -1);
        assertEquals(401, lines.length, "every message on its own line");
        for (int i = 0; i < lines.length - 1; i++) {
            // What shows on a terminal is what follows the last erase: exactly one message.
            // (A message printed before any status was drawn has no erase in front of it.)
            int erase = lines[i].lastIndexOf(ERASE);
            String shown = erase < 0 ? lines[i] : lines[i].substring(erase + ERASE.length());
            assertTrue(shown.matches("message [13] \\d+"), "line " + i + ": " + lines[i]);
        }
        assertEquals("", lines[lines.length - 1].replace(ERASE, "").replaceAll("status \\d+ \\d+", ""),
                "the status is erased at the end");
        String last = lines[lines.length - 1];
        assertTrue(last.isEmpty() || last.endsWith(ERASE), "the status is erased at the end");
    }
}
