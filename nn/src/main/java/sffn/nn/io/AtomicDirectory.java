package sffn.nn.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Replaces a directory (a checkpoint) as one step, so a crash never leaves a half-written one.
 *
 * <p>{@link #write} works with two siblings of {@code target} in the same parent (hence on the
 * same filesystem, where a rename is atomic): {@code <target>.tmp-<pid>-<nanos>} and
 * {@code <target>.old}. In order:
 * <ol>
 *   <li>{@link #recover} the target from any earlier crash;
 *   <li>the caller's filler writes into a fresh temporary directory;
 *   <li>every file and directory in it is fsynced;
 *   <li>the current target, if any, is renamed to {@code <target>.old};
 *   <li>the temporary directory is renamed to {@code <target>} and the parent fsynced;
 *   <li>{@code <target>.old} is deleted.
 * </ol>
 * Guarantee: if the process dies at any point, the next {@link #write} or {@link #recover} leaves
 * {@code <target>} as either the complete previous directory or the complete new one, with no
 * temporary or old copy beside it. A death during steps 1-4 keeps the previous one; between
 * steps 4 and 5 (the target briefly does not exist) recovery renames {@code <target>.old} back,
 * discarding the new copy although it was complete; after step 5 the new one stands and the
 * leftover {@code <target>.old} is deleted. Readers should call {@link #recover} before opening
 * the target, since after a crash in that window the directory lives under
 * {@code <target>.old} until someone recovers it. On power loss the same holds on filesystems
 * that persist renames in the order they were made (ext4, xfs, btrfs, APFS).
 *
 * <p>One writer per target at a time: concurrent writes to the same target, from threads or
 * processes, are not supported; writers hold a {@link CheckpointLock} to exclude each other. Temporary directories of other live processes are left alone;
 * those of dead processes (or of this process, which cleans up after itself) are deleted.
 */
public final class AtomicDirectory {
    private static final String TEMP_INFIX = ".tmp-";
    private static final String OLD_SUFFIX = ".old";

    private AtomicDirectory() {
    }

    /**
     * Fills a new directory with {@code filler} (which receives the empty temporary directory and
     * writes its files there) and publishes it as {@code target}, replacing any previous one.
     * If the filler throws, the temporary directory is deleted, {@code target} is untouched and
     * the exception propagates.
     */
    public static void write(Path target, IOConsumer<Path> filler) throws IOException {
        write(target, name -> true, filler);
    }

    /**
     * As {@link #write(Path, IOConsumer)}, but refuses (before the filler runs) to replace a
     * previous {@code target} that holds an entry whose name {@code replaceable} rejects: the
     * writer replaces only what it wrote itself, never a file someone else put there.
     */
    public static void write(Path target, java.util.function.Predicate<String> replaceable, IOConsumer<Path> filler)
            throws IOException {
        Path abs = target.toAbsolutePath().normalize();
        Path parent = abs.getParent();
        if (parent == null) {
            throw new IOException("cannot write " + target + " atomically: it has no parent directory");
        }
        Files.createDirectories(parent);
        recover(abs);
        if (Files.exists(abs, LinkOption.NOFOLLOW_LINKS) && !Files.isDirectory(abs, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException("cannot write directory " + target + ": a file of that name exists;"
                    + " move it away or choose another path");
        }
        List<String> foreign = foreignEntries(abs, replaceable);
        if (!foreign.isEmpty()) {
            throw new IOException("not replacing " + target + ": it holds " + String.join(", ", foreign)
                    + ", which this writer did not write; move " + (foreign.size() == 1 ? "it" : "them") + " elsewhere");
        }
        String name = abs.getFileName().toString();
        Path temp = parent.resolve(name + TEMP_INFIX + ProcessHandle.current().pid() + "-" + System.nanoTime());
        Path old = parent.resolve(name + OLD_SUFFIX);

        Files.createDirectory(temp);
        try {
            filler.accept(temp);
            syncTree(temp);
        } catch (Throwable t) {
            deleteAfterFailure(temp, t);
            throw t;
        }

        boolean hadPrevious = Files.exists(abs, LinkOption.NOFOLLOW_LINKS);
        if (hadPrevious) {
            try {
                move(abs, old);
            } catch (IOException | RuntimeException e) {
                deleteAfterFailure(temp, e);
                throw e;
            }
        }
        try {
            move(temp, abs);
        } catch (IOException | RuntimeException e) {
            if (hadPrevious) {
                try {
                    move(old, abs);
                } catch (IOException | RuntimeException restore) {
                    e.addSuppressed(restore);
                }
            }
            deleteAfterFailure(temp, e);
            throw e;
        }
        syncDirectory(parent);
        if (hadPrevious) {
            deleteTree(old);
        }
    }

    /** Entries of directory {@code dir} (none when it is absent) whose names {@code replaceable} rejects, at most 5. */
    public static List<String> foreignEntries(Path dir, java.util.function.Predicate<String> replaceable) throws IOException {
        List<String> foreign = new ArrayList<>();
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) return foreign;
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path p : entries) {
                String n = p.getFileName().toString();
                if (!replaceable.test(n)) foreign.add(n);
                if (foreign.size() == 5) break;
            }
        }
        return foreign;
    }

    /**
     * Repairs what a crashed {@link #write} left beside {@code target}: if the target is missing
     * but {@code <target>.old} exists, renames it back; if both exist, deletes the old one; and
     * deletes temporary directories of writers that are no longer running. Safe to call at any
     * time and cheap when there is nothing to do.
     */
    public static void recover(Path target) throws IOException {
        Path abs = target.toAbsolutePath().normalize();
        Path parent = abs.getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            return;
        }
        String name = abs.getFileName().toString();
        Path old = parent.resolve(name + OLD_SUFFIX);
        if (Files.exists(old, LinkOption.NOFOLLOW_LINKS)) {
            if (Files.exists(abs, LinkOption.NOFOLLOW_LINKS)) {
                deleteTree(old);
            } else {
                move(old, abs);
                syncDirectory(parent);
            }
        }
        Pattern temp = Pattern.compile(Pattern.quote(name + TEMP_INFIX) + "(\\d+)-(-?\\d+)");
        long self = ProcessHandle.current().pid();
        List<Path> stale = new ArrayList<>();
        try (DirectoryStream<Path> siblings = Files.newDirectoryStream(parent, name + TEMP_INFIX + "*")) {
            for (Path p : siblings) {
                Matcher m = temp.matcher(p.getFileName().toString());
                if (!m.matches()) continue;
                long pid;
                try {
                    pid = Long.parseLong(m.group(1));
                } catch (NumberFormatException e) {
                    continue;
                }
                // A pid of this process is stale too: after a restart the pid may be reused.
                boolean alive = pid != self && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
                if (!alive) stale.add(p);
            }
        }
        for (Path p : stale) {
            deleteTree(p);
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            // Siblings share a filesystem, so this is a plain rename anyway where it happens.
            Files.move(from, to);
        }
    }

    private static void syncTree(Path root) throws IOException {
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                if (attrs.isRegularFile()) {
                    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                        ch.force(true);
                    }
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                if (exc != null) throw exc;
                syncDirectory(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    /** Makes a directory's entries (creations, renames) durable; Windows cannot and need not. */
    private static void syncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows")) throw e;
        }
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) return;
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException exc) throws IOException {
                if (exc instanceof NoSuchFileException) return FileVisitResult.CONTINUE;
                throw exc;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                if (exc != null) throw exc;
                Files.deleteIfExists(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    private static void deleteAfterFailure(Path temp, Throwable failure) {
        try {
            deleteTree(temp);
        } catch (IOException | RuntimeException e) {
            failure.addSuppressed(e);
        }
    }
}
