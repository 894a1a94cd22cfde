package sffn.nn.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sffn.kernels.Tensor;

class AtomicDirectoryTest {
    @TempDir
    Path root;

    /** What the parent holds, by name, sorted. */
    private List<String> siblings() throws IOException {
        try (Stream<Path> s = Files.list(root)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** Relative path -> content of every file under dir. */
    private static Map<String, String> contents(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).collect(java.util.stream.Collectors.toMap(
                    p -> dir.relativize(p).toString(), p -> {
                        try {
                            return Files.readString(p);
                        } catch (IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    }));
        }
    }

    private static void fill(Path dir, Map<String, String> files) throws IOException {
        for (Map.Entry<String, String> f : files.entrySet()) {
            Path p = dir.resolve(f.getKey());
            Files.createDirectories(p.getParent());
            Files.writeString(p, f.getValue());
        }
    }

    private static final Map<String, String> OLD = Map.of("config.json", "{\"step\": 1}", "sub/a.txt", "old a");
    private static final Map<String, String> NEW = Map.of("config.json", "{\"step\": 2}", "b.txt", "new b");

    @Test
    void firstWriteCreatesTheDirectoryAndItsParents() throws IOException {
        Path target = root.resolve("runs/ckpt");
        AtomicDirectory.write(target, dir -> fill(dir, OLD));
        assertEquals(OLD, contents(target));
        try (Stream<Path> s = Files.list(target.getParent())) {
            assertEquals(List.of("ckpt"), s.map(p -> p.getFileName().toString()).toList());
        }
    }

    @Test
    void successfulWriteReplacesTheWholeDirectory() throws IOException {
        Path target = root.resolve("ckpt");
        AtomicDirectory.write(target, dir -> fill(dir, OLD));
        AtomicDirectory.write(target, dir -> fill(dir, NEW));
        assertEquals(NEW, contents(target), "no file of the old directory survives");
        assertEquals(List.of("ckpt"), siblings());
    }

    @Test
    void failingFillerLeavesThePreviousDirectoryAndNoLitter() throws IOException {
        Path target = root.resolve("ckpt");
        AtomicDirectory.write(target, dir -> fill(dir, OLD));

        IOException disk = new IOException("disk full");
        IOException thrown = assertThrows(IOException.class, () -> AtomicDirectory.write(target, dir -> {
            fill(dir, NEW);
            throw disk;
        }));
        assertSame(disk, thrown);
        assertEquals(OLD, contents(target));
        assertEquals(List.of("ckpt"), siblings());

        IllegalStateException bug = new IllegalStateException("bug in the filler");
        assertSame(bug, assertThrows(IllegalStateException.class, () -> AtomicDirectory.write(target, dir -> {
            Files.writeString(dir.resolve("half"), "x");
            throw bug;
        })));
        assertEquals(OLD, contents(target));
        assertEquals(List.of("ckpt"), siblings());
    }

    @Test
    void failingFirstWriteLeavesNothing() throws IOException {
        Path target = root.resolve("ckpt");
        assertThrows(IOException.class, () -> AtomicDirectory.write(target, dir -> {
            fill(dir, NEW);
            throw new IOException("interrupted");
        }));
        assertEquals(List.of(), siblings());
    }

    /** A crash after the old directory was moved aside and before the new one was renamed in. */
    @Test
    void recoverRestoresTheOldDirectoryWhenTheTargetIsMissing() throws IOException {
        Path target = root.resolve("ckpt");
        fill(root.resolve("ckpt.old"), OLD);
        fill(root.resolve("ckpt.tmp-" + ProcessHandle.current().pid() + "-123"), NEW);
        AtomicDirectory.recover(target);
        assertEquals(OLD, contents(target));
        assertEquals(List.of("ckpt"), siblings());
    }

    /** A crash after the new directory was renamed in and before the old one was deleted. */
    @Test
    void recoverDeletesALeftoverOldDirectory() throws IOException {
        Path target = root.resolve("ckpt");
        fill(target, NEW);
        fill(root.resolve("ckpt.old"), OLD);
        AtomicDirectory.recover(target);
        assertEquals(NEW, contents(target));
        assertEquals(List.of("ckpt"), siblings());
    }

    @Test
    void writeRecoversFirst() throws IOException {
        Path target = root.resolve("ckpt");
        fill(root.resolve("ckpt.old"), OLD);
        AtomicDirectory.write(target, dir -> fill(dir, NEW));
        assertEquals(NEW, contents(target));
        assertEquals(List.of("ckpt"), siblings());
    }

    @Test
    void recoverDeletesTempDirectoriesOfDeadWritersOnly() throws IOException {
        long dead = Integer.MAX_VALUE; // above any Linux pid_max
        assertFalse(ProcessHandle.of(dead).isPresent(), "test precondition: no process " + dead);
        long live = ProcessHandle.current().parent().map(ProcessHandle::pid).orElseThrow();
        Path target = root.resolve("ckpt");
        fill(target, OLD);
        fill(root.resolve("ckpt.tmp-" + dead + "-5"), NEW);
        fill(root.resolve("ckpt.tmp-" + live + "--7"), NEW);
        fill(root.resolve("ckpt.tmp-notours"), NEW);
        fill(root.resolve("other.tmp-" + dead + "-5"), NEW);

        AtomicDirectory.recover(target);
        assertEquals(List.of("ckpt", "ckpt.tmp-" + live + "--7", "ckpt.tmp-notours", "other.tmp-" + dead + "-5"),
                siblings());
        assertEquals(OLD, contents(target));
    }

    @Test
    void recoverWithNothingToDoChangesNothing() throws IOException {
        AtomicDirectory.recover(root.resolve("ckpt"));
        assertEquals(List.of(), siblings());
        AtomicDirectory.recover(root.resolve("missing/ckpt"));
        assertEquals(List.of(), siblings());
    }

    @Test
    void aFileInTheWayIsReported() throws IOException {
        Path target = root.resolve("ckpt");
        Files.writeString(target, "not a directory");
        IOException e = assertThrows(IOException.class, () -> AtomicDirectory.write(target, dir -> fill(dir, NEW)));
        assertTrue(e.getMessage().contains(target + ": a file of that name exists"), e.getMessage());
        assertEquals("not a directory", Files.readString(target));
        assertEquals(List.of("ckpt"), siblings());
    }

    @Test
    void holdsACheckpointWrittenWithSafetensors() throws IOException {
        Tensor w = new Tensor("wte.weight", 3, 4);
        for (int i = 0; i < w.size(); i++) w.data[i] = i - 5.5f;
        Path target = root.resolve("step-100");
        AtomicDirectory.write(target, dir -> {
            Safetensors.write(dir.resolve("model.safetensors"), List.of(w), Map.of("step", "100"));
            Files.writeString(dir.resolve("config.json"), "{}");
        });
        AtomicDirectory.recover(target);
        Tensor back = new Tensor("wte.weight", 3, 4);
        Safetensors.loadInto(target.resolve("model.safetensors"), List.of(back));
        assertArrayEquals(w.data, back.data);
    }

    @Test
    void aWriterNeverReplacesEntriesItDidNotWrite() throws IOException {
        Path target = root.resolve("ckpt");
        AtomicDirectory.write(target, dir -> fill(dir, OLD));
        Files.writeString(target.resolve("notes.txt"), "mine");
        IOException e = assertThrows(IOException.class, () -> AtomicDirectory.write(target,
                name -> name.equals("config.json") || name.equals("sub") || name.equals("b.txt"), dir -> fill(dir, NEW)));
        assertEquals("not replacing " + target + ": it holds notes.txt, which this writer did not write; move it elsewhere",
                e.getMessage());
        assertEquals("mine", Files.readString(target.resolve("notes.txt")));
        assertEquals(List.of("ckpt"), siblings(), "nothing written beside it");
    }

    @Test
    void aLockIsExclusiveAndReadersRecoverOnlyWhenItIsFree() throws IOException {
        Path target = root.resolve("ckpt");
        AtomicDirectory.write(target, dir -> fill(dir, OLD));
        Files.move(target, root.resolve("ckpt.old")); // a crash between the two renames
        try (CheckpointLock lock = CheckpointLock.acquire(target)) {
            assertEquals(root.resolve(".ckpt.lock"), lock.file());
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> CheckpointLock.acquire(target));
            assertTrue(e.getMessage().contains("pid " + ProcessHandle.current().pid()), e.getMessage());
            assertTrue(CheckpointLock.recoverIfFree(target), "the holder itself may recover");
        }
        assertEquals(OLD, contents(target));
        Files.move(target, root.resolve("ckpt.old"));
        assertTrue(CheckpointLock.recoverIfFree(target), "no writer: a reader repairs the crash");
        assertEquals(OLD, contents(target));
        assertEquals(List.of(".ckpt.lock", "ckpt"), siblings());
    }
}
