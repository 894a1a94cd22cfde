package sffn.train;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import sffn.nn.io.AtomicDirectory;
import sffn.nn.io.CheckpointLock;
import sffn.nn.io.IoErrors;
import sffn.nn.io.ModelCheckpoint;
import sffn.nn.tokenizer.TokenizerInfo;

/**
 * A run's checkpoint directory ({@code train --out}), claimed before any training time is spent:
 * the path does not overlap the data, holds nothing sffn did not write, is locked against a
 * second writer for the run's life, has been recovered from a crashed save, and can be written.
 * Every refusal names the path and what to do.
 */
public final class OutputDirectory implements AutoCloseable {
    /** Every name a checkpoint directory may hold; a save replaces the directory with all of them. */
    public static final Set<String> CHECKPOINT_FILES = Set.of(ModelCheckpoint.CONFIG, ModelCheckpoint.MODEL,
            Trainer.OPTIMIZER, TrainerState.FILE, Trainer.METRICS, TokenizerInfo.FILE_NAME);
    /** The merge crossover that decoding measures and caches beside a checkpoint, one file per weight format. */
    private static final java.util.regex.Pattern MERGE_CALIBRATION =
            java.util.regex.Pattern.compile("merge-calibration(-[a-z0-9]+)?\\.json(\\.tmp)?");

    private final Path dir;
    private final CheckpointLock lock;

    private OutputDirectory(Path dir, CheckpointLock lock) {
        this.dir = dir;
        this.lock = lock;
    }

    /** Whether a save may replace an entry of this name (see {@link AtomicDirectory#write(Path, java.util.function.Predicate, sffn.nn.io.IOConsumer)}). */
    public static boolean replaceable(String name) {
        return CHECKPOINT_FILES.contains(name) || MERGE_CALIBRATION.matcher(name).matches();
    }

    /**
     * Claims {@code out} for a new run ({@code resume} false: it must not hold a checkpoint) or
     * for continuing the one it holds. {@code data} is the run's data directory (may be null when
     * not known yet, e.g. before a resumed run's config is read; call {@link #checkData} then).
     *
     * @throws IllegalArgumentException for an unusable path, with what to do
     * @throws IllegalStateException    when another process is writing {@code out}
     */
    public static OutputDirectory claim(Path out, Path data, boolean resume) throws IOException {
        Path real = realPath(out);
        if (data != null) checkOverlap(real, data);
        if (Files.exists(real) && !Files.isDirectory(real)) {
            throw new IllegalArgumentException("--out " + out + " is a file, not a directory; choose a directory path");
        }
        checkForeign(out, real);
        CheckpointLock lock;
        try {
            lock = CheckpointLock.acquire(real);
        } catch (IOException e) {
            throw new IllegalArgumentException("--out " + out + " cannot be used: cannot create "
                    + CheckpointLock.lockFile(real) + " (" + IoErrors.describe(e) + "); choose a writable location");
        }
        try {
            AtomicDirectory.recover(real);
            checkForeign(out, real);
            boolean holds = Files.isRegularFile(real.resolve(ModelCheckpoint.CONFIG));
            if (!resume && holds) {
                throw new IllegalArgumentException(out + " already holds a checkpoint; pass --resume to continue it,"
                        + " or choose another --out");
            }
            if (resume && !holds) {
                throw new IllegalArgumentException(out + " holds no checkpoint to resume ("
                        + real.resolve(ModelCheckpoint.CONFIG) + " is missing); start a new run without --resume");
            }
            probe(out, real);
            return new OutputDirectory(real, lock);
        } catch (IOException | RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    /** The checkpoint directory, links resolved. */
    public Path path() {
        return dir;
    }

    /** Refuses a data directory equal to, inside or containing this checkpoint directory. */
    public void checkData(Path data) throws IOException {
        checkOverlap(dir, data);
    }

    /**
     * Refuses to start when the filesystem cannot hold a checkpoint of {@code bytes} beside the
     * previous one (a save writes the new one before it removes the old).
     */
    public void checkSpace(long bytes) throws IOException {
        FileStore store = Files.getFileStore(dir.getParent());
        long free = store.getUsableSpace();
        long need = bytes + (bytes >> 4) + (1 << 20);
        if (free < need) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "--out %s: a checkpoint of this model takes %s but"
                    + " only %s is free on %s; free some space or choose another --out", dir, size(need), size(free), store));
        }
    }

    /** The path with every symbolic link resolved: that of its nearest existing ancestor, plus the rest. */
    public static Path realPath(Path p) throws IOException {
        Path abs = p.toAbsolutePath().normalize();
        Path existing = abs;
        while (existing != null && !Files.exists(existing)) existing = existing.getParent();
        if (existing == null) return abs;
        return existing.toRealPath().resolve(existing.relativize(abs)).normalize();
    }

    /**
     * Refuses a checkpoint directory equal to, inside or containing the data directory: saving
     * replaces the whole checkpoint directory, data and all.
     */
    static void checkOverlap(Path outReal, Path data) throws IOException {
        Path d = realPath(data);
        String how = outReal.equals(d) ? "is" : outReal.startsWith(d) ? "is inside" : d.startsWith(outReal) ? "contains" : null;
        if (how != null) {
            throw new IllegalArgumentException("--out " + outReal + " " + how + " the data directory " + d
                    + " (links resolved); a checkpoint save replaces the whole --out directory, so choose an --out"
                    + " apart from the data");
        }
    }

    private static void checkForeign(Path out, Path real) throws IOException {
        List<String> foreign = AtomicDirectory.foreignEntries(real, OutputDirectory::replaceable);
        if (foreign.isEmpty()) return;
        boolean checkpoint = Files.isRegularFile(real.resolve(ModelCheckpoint.CONFIG));
        throw new IllegalArgumentException("--out " + out + (checkpoint
                ? " holds a checkpoint and also " + String.join(", ", foreign) + ", which sffn did not write; every save"
                + " replaces the whole directory, so move " + (foreign.size() == 1 ? "it" : "them") + " elsewhere first"
                : " is not empty and is not an sffn checkpoint (it holds " + String.join(", ", foreign)
                + (foreign.size() == 5 ? ", ..." : "") + "); sffn replaces the whole --out directory at every save, so give"
                + " a new or empty directory"));
    }

    /** Writes, syncs and removes a small file where saves write theirs (beside the directory). */
    private static void probe(Path out, Path real) {
        Path probe = real.getParent().resolve("." + real.getFileName() + ".probe-" + ProcessHandle.current().pid());
        try {
            try (FileChannel ch = FileChannel.open(probe, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.allocate(64 << 10));
                ch.force(true);
            } finally {
                Files.deleteIfExists(probe);
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("--out " + out + " cannot be written: writing a test file " + probe
                    + " failed (" + IoErrors.describe(e) + "); choose a writable location with free space");
        }
    }

    private static String size(long bytes) {
        return bytes >= 1L << 30 ? String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30))
                : String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20));
    }

    @Override
    public void close() throws IOException {
        lock.close();
    }
}
