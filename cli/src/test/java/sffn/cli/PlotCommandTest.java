package sffn.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PlotCommandTest {
    @TempDir
    Path tmp;

    /** A run folder with a config.json of the given method and a metrics.jsonl of {@code steps} steps. */
    private Path run(String name, String method, int steps) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve(name));
        Files.writeString(dir.resolve("config.json"), "{\"method\": {\"name\": \"" + method + "\", \"rank\": 8}}");
        StringBuilder sb = new StringBuilder();
        for (int s = 1; s <= steps; s++) {
            sb.append(String.format(Locale.ROOT, "{\"step\":%d,\"loss\":%.3f,\"tokens\":%d,\"flops\":%d,\"tokens_per_s\":100,"
                    + "\"elapsed_s\":%.1f}%n", s, 5.0 / s, 64L * s, 1000L * s, 0.64 * s));
            if (s % 5 == 0) {
                sb.append(String.format(Locale.ROOT, "{\"step\":%d,\"val_loss\":%.3f,\"tokens\":%d,\"flops\":%d,\"elapsed_s\":%.1f}%n",
                        s, 5.5 / s, 64L * s, 1000L * s, 0.64 * s));
            }
        }
        Files.writeString(dir.resolve("metrics.jsonl"), sb.toString());
        return dir;
    }

    @Test
    void twoRunsOfTheSameMethodOnEveryAxis() throws Exception {
        Path a = run("lowrank-seed1", "lowrank", 30);
        Path b = run("lowrank-seed2", "lowrank", 12);
        assertEquals(List.of("lowrank-seed1 (lowrank r8)", "lowrank-seed2 (lowrank r8)"), PlotCommand.labels(List.of(a, b), null));
        for (String x : List.of("steps", "tokens", "flops", "time")) {
            Path png = tmp.resolve("loss-" + x + ".png");
            CommandsEndToEndTest.Run r = CommandsEndToEndTest.run("plot", "--runs", a.toString(), b.toString(), "--x", x,
                    "--out", png.toString());
            assertEquals(0, r.code(), r.err());
            assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, java.util.Arrays.copyOf(Files.readAllBytes(png), 4));
        }
        CommandsEndToEndTest.Run given = CommandsEndToEndTest.run("plot", "--runs", a.toString(), b.toString(), "--labels",
                "first", "second", "--out", tmp.resolve("l.png").toString());
        assertEquals(0, given.code(), given.err());
        CommandsEndToEndTest.Run wrong = CommandsEndToEndTest.run("plot", "--runs", a.toString(), b.toString(), "--labels",
                "only", "--out", tmp.resolve("w.png").toString());
        assertEquals(2, wrong.code());
        assertTrue(wrong.err().contains("--labels gives 1 label(s) for 2 run(s)"), wrong.err());
    }

    @Test
    void smoothingIsBoundedByTheRunLength() {
        assertEquals(0.0, PlotCommand.boundedSmoothing(0.9, 8));
        assertEquals(0.5, PlotCommand.boundedSmoothing(0.9, 20), 1e-12);
        assertEquals(0.9, PlotCommand.boundedSmoothing(0.9, 1000), 1e-12);
        assertEquals(0.3, PlotCommand.boundedSmoothing(0.3, 1000), 1e-12);
    }
}
