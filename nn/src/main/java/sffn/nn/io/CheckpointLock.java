package sffn.nn.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One writer per checkpoint directory: an exclusive OS file lock held for the writer's whole run
 * and released by the operating system when the process exits or dies, so a crash never leaves a
 * stale lock behind.
 *
 * <p>The lock file is {@code .<name>.lock} beside the checkpoint directory {@code <name>}, not
 * inside it: {@link AtomicDirectory#write} renames the directory away and deletes the old copy at
 * every save, which would take a lock file inside it along. The lock file holds the holder's pid
 * (for the message a second writer gets) and is never deleted: deleting it would let a new
 * writer lock a fresh file while an old one still holds the deleted one.
 *
 * <p>Readers ({@code eval}, {@code generate}) do not take the lock; they only use
 * {@link #recoverIfFree} so that they repair a crashed swap when no writer runs and leave the
 * directory alone while one does.
 */
public final class CheckpointLock implements AutoCloseable {
    /**
     * Locks this process holds, by lock file. A second channel must never be opened on a held
     * lock file: on Linux, closing any descriptor of a file drops the process's locks on it.
     */
    private static final Map<Path, CheckpointLock> HELD = new ConcurrentHashMap<>();

    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;

    private CheckpointLock(Path file, FileChannel channel, FileLock lock) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
    }

    /** The lock file of checkpoint directory {@code target}. */
    public static Path lockFile(Path target) {
        Path abs = target.toAbsolutePath().normalize();
        Path parent = abs.getParent();
        if (parent == null) throw new IllegalArgumentException("checkpoint directory " + target + " has no parent directory");
        return parent.resolve("." + abs.getFileName() + ".lock");
    }

    /**
     * Takes the lock of {@code target} for this process, creating the parent directories and the
     * lock file as needed.
     *
     * @throws IllegalStateException naming the holder's pid when another writer holds it
     * @throws IOException           when the lock file cannot be created (e.g. a read-only parent)
     */
    public static CheckpointLock acquire(Path target) throws IOException {
        CheckpointLock l = tryAcquire(target);
        if (l == null) {
            throw new IllegalStateException("checkpoint " + target + " is being written by another sffn process ("
                    + holder(target) + "); wait for it to finish or stop it, or choose another --out."
                    + " (eval and generate may read it meanwhile)");
        }
        return l;
    }

    /** The lock, or null when another process (or another lock in this one) holds it. */
    public static synchronized CheckpointLock tryAcquire(Path target) throws IOException {
        Path file = lockFile(target);
        if (HELD.containsKey(file)) return null;
        Files.createDirectories(file.getParent());
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            FileLock lock;
            try {
                lock = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                ch.close();
                return null;
            }
            byte[] pid = (ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII);
            ch.truncate(0);
            ch.write(ByteBuffer.wrap(pid), 0);
            CheckpointLock held = new CheckpointLock(file, ch, lock);
            HELD.put(file, held);
            return held;
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** "pid N" as the lock file records it, for messages. */
    static String holder(Path target) {
        try {
            String s = Files.readString(lockFile(target), StandardCharsets.US_ASCII).strip();
            if (s.matches("\\d+")) {
                return "pid " + s + (Long.parseLong(s) == ProcessHandle.current().pid() ? ", this process" : "");
            }
        } catch (IOException | RuntimeException e) {
            // fall through: the pid is a courtesy
        }
        return "pid unknown";
    }

    /**
     * Repairs a crashed swap of {@code target} ({@link AtomicDirectory#recover}) unless a writer
     * holds the lock, in which case the swap may be under way and is left alone. Where no lock
     * file can be made (a read-only location), there is no writer either and nothing to repair.
     *
     * @return false when a writer holds the lock
     */
    public static boolean recoverIfFree(Path target) throws IOException {
        Path parent = target.toAbsolutePath().normalize().getParent();
        if (parent == null || !Files.isDirectory(parent)) return true;
        if (HELD.containsKey(lockFile(target))) {
            AtomicDirectory.recover(target); // this process is the writer, between two of its saves
            return true;
        }
        CheckpointLock l;
        try {
            l = tryAcquire(target);
        } catch (IOException e) {
            return true;
        }
        if (l == null) return false;
        try (l) {
            AtomicDirectory.recover(target);
        }
        return true;
    }

    public Path file() {
        return file;
    }

    @Override
    public void close() throws IOException {
        HELD.remove(file, this);
        try {
            lock.release();
        } finally {
            channel.close();
        }
    }
}
