package sffn.train.data;

import sffn.nn.tokenizer.TokenizerInfo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Serves batches of (inputs, targets) from the token shards of one split of a data directory.
 *
 * <p>Windows: a shard of n tokens holds {@code (n-1)/T} windows; window w covers tokens
 * {@code [w*T, w*T+T]}, inputs are its first T tokens and targets its last T. Windows never span
 * shards; the last {@code (n-1) mod T} tokens of a shard are not served.
 *
 * <p>Order: the windows of all shards are numbered in shard order, and epoch e serves them in the
 * order {@link WindowOrder#shuffled}(W, seed, e) for the train split, in plain order for val. The
 * epochs laid end to end form one stream of windows; with {@code worldSize} ranks, rank r serves the
 * stream positions {@code ≡ r (mod worldSize)}, B of them per batch, so the ranks together serve each
 * window exactly once per epoch, and a batch may run from the end of one epoch into the next (no
 * window is dropped or repeated within an epoch). All ranks that have served the same number of
 * batches share one {@link Position}, which is what a checkpoint records.
 *
 * <p>Every served token is checked against the model's vocabulary; at open a sample of each shard
 * (or, with {@link Options#fullScan}, all of it) is checked too, and a {@code tokenizer.json} in the
 * directory that names a larger vocabulary is refused.
 *
 * <p>Not thread-safe: one loader per consumer thread.
 */
public final class ShardLoader {

    /**
     * @param seed      drives the train split's per-epoch order
     * @param rank      this process's rank, {@code 0 <= rank < worldSize}
     * @param worldSize number of data-parallel ranks sharing the windows
     * @param fullScan  check every token of every shard against the vocabulary at open (else a sample)
     */
    public record Options(long seed, int rank, int worldSize, boolean fullScan) {
        public static final Options DEFAULT = new Options(0, 0, 1, false);

        public Options {
            if (worldSize < 1 || rank < 0 || rank >= worldSize) {
                throw new IllegalArgumentException("rank " + rank + " of world size " + worldSize
                        + ": need world size >= 1 and 0 <= rank < world size");
            }
        }

        public Options withSeed(long seed) {
            return new Options(seed, rank, worldSize, fullScan);
        }

        public Options withRank(int rank, int worldSize) {
            return new Options(seed, rank, worldSize, fullScan);
        }

        public Options withFullScan(boolean fullScan) {
            return new Options(seed, rank, worldSize, fullScan);
        }
    }

    /**
     * Where the next batch starts: {@code position} is the index, in epoch {@code epoch}'s order, of
     * the window that rank 0 serves first ({@code 0 <= position < windowCount()}).
     */
    public record Position(long epoch, long position) {
        public Position {
            if (epoch < 0 || position < 0) {
                throw new IllegalArgumentException("loader position must not be negative: epoch " + epoch
                        + ", position " + position);
            }
        }
    }

    /** {@code <prefix>_<train|val>[_<number>].bin}: llm.c's names, numbered or not. */
    private static final Pattern SHARD_NAME = Pattern.compile("(.+)_(train|val)(?:_(\\d+))?\\.bin");
    /** Tokens checked at open from the start of each shard, and points sampled across the rest. */
    private static final int HEAD_CHECK = 1 << 16;
    private static final int SPREAD_CHECKS = 256;

    private final Path dir;
    private final Split split;
    private final int batchSize;
    private final int seqLen;
    private final int vocabSize;
    private final Options options;
    private final TokenizerInfo tokenizerInfo;
    private final TokenShard[] shards;
    /** firstWindow[s] = stream number of shard s's window 0; firstWindow[shards.length] = W. */
    private final long[] firstWindow;
    private final int windowCount;
    private final List<String> notes = new ArrayList<>();
    private final int[] window;

    private long epoch;
    private int position;
    private long cachedEpochA = -1;
    private int[] cachedOrderA;
    private long cachedEpochB = -1;
    private int[] cachedOrderB;

    public ShardLoader(Path dir, Split split, int batchSize, int seqLen, int vocabSize) throws IOException {
        this(dir, split, batchSize, seqLen, vocabSize, Options.DEFAULT);
    }

    /**
     * Opens the shards of {@code split} in {@code dir} and checks them.
     *
     * @param vocabSize the model's vocabulary size: every served token must be below it
     * @throws IllegalArgumentException for a missing directory, no shards of the split, shards of two
     *                                  data sets mixed, a damaged shard, too few tokens for one window,
     *                                  or tokens outside the vocabulary
     */
    public ShardLoader(Path dir, Split split, int batchSize, int seqLen, int vocabSize, Options options) throws IOException {
        if (batchSize < 1 || seqLen < 1 || vocabSize < 1) {
            throw new IllegalArgumentException("batch size " + batchSize + ", sequence length " + seqLen
                    + " and vocabulary size " + vocabSize + " must all be positive");
        }
        this.dir = dir;
        this.split = split;
        this.batchSize = batchSize;
        this.seqLen = seqLen;
        this.vocabSize = vocabSize;
        this.options = options;
        this.window = new int[seqLen + 1];

        List<Path> files = findShards(dir, split);
        Path info = dir.resolve(TokenizerInfo.FILE_NAME);
        this.tokenizerInfo = Files.exists(info) ? TokenizerInfo.read(info) : null;
        if (tokenizerInfo != null && tokenizerInfo.vocabSize() > vocabSize) {
            throw new IllegalArgumentException(info + " says the shards hold '" + tokenizerInfo.name() + "' tokens ("
                    + tokenizerInfo.vocabSize() + " ids), more than the model's vocabulary of " + vocabSize
                    + "; prepare the data with the model's tokenizer or give the model a vocabulary of at least "
                    + tokenizerInfo.vocabSize());
        }

        List<TokenShard> usable = new ArrayList<>();
        List<String> tooShort = new ArrayList<>();
        List<Long> starts = new ArrayList<>();
        long total = 0;
        for (Path f : files) {
            TokenShard shard = TokenShard.open(f);
            checkVocab(shard);
            long w = shard.tokenCount() == 0 ? 0 : (shard.tokenCount() - 1) / seqLen;
            if (w == 0) {
                tooShort.add(f.getFileName() + " (" + shard.tokenCount() + " tokens)");
                continue;
            }
            usable.add(shard);
            starts.add(total);
            total += w;
        }
        if (usable.isEmpty()) {
            throw new IllegalArgumentException("the " + split.tag() + " shards in " + dir + " are too short for one window of "
                    + "sequence length + 1 = " + (seqLen + 1) + " tokens: " + String.join(", ", tooShort)
                    + "; use a shorter sequence length or more data");
        }
        for (String s : tooShort) {
            notes.add("skipping " + s + " in " + dir + ": shorter than one window of " + (seqLen + 1) + " tokens");
        }
        if (total > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("the " + split.tag() + " shards in " + dir + " hold " + total
                    + " windows of " + seqLen + " tokens, more than this loader orders (2^31 - 9); use a longer sequence length"
                    + " or fewer shards per directory");
        }
        this.shards = usable.toArray(TokenShard[]::new);
        this.firstWindow = new long[shards.length + 1];
        for (int s = 0; s < shards.length; s++) {
            firstWindow[s] = starts.get(s);
        }
        firstWindow[shards.length] = total;
        this.windowCount = (int) total;
    }

    /**
     * The shards of {@code split} in {@code dir}, in shard-number order.
     *
     * @throws IllegalArgumentException when the directory is missing, holds no shards of the split, or
     *                                  holds shards of two data sets (two prefixes) for it
     */
    public static List<Path> findShards(Path dir, Split split) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("data directory " + dir + (Files.exists(dir) ? " is not a directory"
                    : " does not exist") + "; make one with 'sffn prepare --out " + dir + " ...'");
        }
        List<Path> found = new ArrayList<>();
        List<String> prefixes = new ArrayList<>();
        List<String> others = new ArrayList<>();
        try (Stream<Path> list = Files.list(dir)) {
            for (Path p : list.sorted().toList()) {
                Matcher m = SHARD_NAME.matcher(p.getFileName().toString());
                if (m.matches() && m.group(2).equals(split.tag()) && Files.isRegularFile(p)) {
                    found.add(p);
                    if (!prefixes.contains(m.group(1))) {
                        prefixes.add(m.group(1));
                    }
                } else {
                    others.add(p.getFileName().toString());
                }
            }
        }
        if (found.isEmpty()) {
            String seen = others.isEmpty() ? "it is empty" : "it holds " + String.join(", ", others.subList(0, Math.min(8, others.size())))
                    + (others.size() > 8 ? " and " + (others.size() - 8) + " more" : "");
            throw new IllegalArgumentException("no " + split.tag() + " shards in " + dir + ": expected files named <prefix>_"
                    + split.tag() + "_000000.bin, <prefix>_" + split.tag() + "_000001.bin, ... (as 'sffn prepare' and llm.c's"
                    + " data scripts write them), but " + seen);
        }
        if (prefixes.size() > 1) {
            throw new IllegalArgumentException(dir + " holds " + split.tag() + " shards of more than one data set (prefixes "
                    + String.join(", ", prefixes) + "); keep one data set per directory");
        }
        found.sort(Comparator.comparingLong(ShardLoader::shardNumber).thenComparing(Path::toString));
        return found;
    }

    /** Whether {@code dir} holds any shard of {@code split} (false, not an error, when it holds none). */
    public static boolean hasShards(Path dir, Split split) throws IOException {
        if (!Files.isDirectory(dir)) return false;
        try (Stream<Path> list = Files.list(dir)) {
            return list.anyMatch(p -> {
                Matcher m = SHARD_NAME.matcher(p.getFileName().toString());
                return m.matches() && m.group(2).equals(split.tag());
            });
        }
    }

    private static long shardNumber(Path p) {
        Matcher m = SHARD_NAME.matcher(p.getFileName().toString());
        return m.matches() && m.group(3) != null ? Long.parseLong(m.group(3)) : -1;
    }

    private void checkVocab(TokenShard shard) {
        int n = shard.tokenCount();
        int bad;
        if (options.fullScan()) {
            bad = shard.findOutOfVocab(0, n, vocabSize);
        } else {
            bad = shard.findOutOfVocab(0, Math.min(n, HEAD_CHECK), vocabSize);
            for (int k = 0; bad < 0 && k < SPREAD_CHECKS && n > 0; k++) {
                bad = shard.findOutOfVocab((int) ((long) k * (n - 1) / Math.max(1, SPREAD_CHECKS - 1)), 1, vocabSize);
            }
        }
        if (bad >= 0) {
            throw shard.outOfVocab(bad, vocabSize);
        }
    }

    /**
     * Fills {@code inputs[0 .. B*T)} and {@code targets[0 .. B*T)} (row b = b-th window) with the next
     * batch and advances the position by {@code B * worldSize} windows.
     */
    public void next(int[] inputs, int[] targets) {
        int n = batchSize * seqLen;
        if (inputs.length < n || targets.length < n) {
            throw new IllegalArgumentException("batch buffers hold " + inputs.length + " inputs and " + targets.length
                    + " targets; B*T = " + batchSize + "*" + seqLen + " = " + n + " are needed");
        }
        int ws = options.worldSize();
        for (int b = 0; b < batchSize; b++) {
            long ahead = position + (long) b * ws + options.rank();
            long e = epoch + ahead / windowCount;
            int id = windowId(e, (int) (ahead % windowCount));
            readWindow(id);
            System.arraycopy(window, 0, inputs, b * seqLen, seqLen);
            System.arraycopy(window, 1, targets, b * seqLen, seqLen);
        }
        advance((long) batchSize * ws);
    }

    private int windowId(long e, int index) {
        return split == Split.TRAIN ? orderFor(e)[index] : index;
    }

    private int[] orderFor(long e) {
        if (e == cachedEpochA) {
            return cachedOrderA;
        }
        if (e == cachedEpochB) {
            return cachedOrderB;
        }
        int[] order = WindowOrder.shuffled(windowCount, options.seed(), e);
        // keep the two latest epochs: a batch touches at most the current and the next one
        if (cachedEpochA < cachedEpochB) {
            cachedEpochA = e;
            cachedOrderA = order;
        } else {
            cachedEpochB = e;
            cachedOrderB = order;
        }
        return order;
    }

    private void readWindow(int id) {
        int s = Arrays.binarySearch(firstWindow, 0, shards.length, id);
        if (s < 0) {
            s = -s - 2;
        }
        TokenShard shard = shards[s];
        int start = (int) ((id - firstWindow[s]) * seqLen);
        shard.copy(start, window, 0, seqLen + 1);
        for (int k = 0; k <= seqLen; k++) {
            if (window[k] < 0 || window[k] >= vocabSize) {
                throw shard.outOfVocab(start + k, vocabSize);
            }
        }
    }

    private void advance(long windows) {
        long ahead = position + windows;
        epoch += ahead / windowCount;
        position = (int) (ahead % windowCount);
    }

    public Position position() {
        return new Position(epoch, position);
    }

    /**
     * Continues from a saved {@link #position()}.
     *
     * @throws IllegalArgumentException when the position lies past this split's windows (the data or
     *                                  the sequence length changed since it was saved)
     */
    public void seek(Position p) {
        if (p.position() >= windowCount) {
            throw new IllegalArgumentException("loader position " + p.position() + " is past the " + windowCount
                    + " windows of the " + split.tag() + " shards in " + dir
                    + "; the data or the sequence length changed since the position was saved");
        }
        epoch = p.epoch();
        position = (int) p.position();
    }

    /** Moves past {@code batches} batches without reading them (as if {@link #next} had been called). */
    public void skip(long batches) {
        if (batches < 0) {
            throw new IllegalArgumentException("cannot skip a negative number of batches: " + batches);
        }
        long full = batches / windowCount;
        long rest = batches % windowCount;
        long perBatch = (long) batchSize * options.worldSize();
        // full * perBatch windows is a whole number of epochs: perBatch of them per windowCount batches
        epoch += full * perBatch;
        advance(rest * perBatch);
    }

    /** Windows in one epoch, over all ranks. */
    public int windowCount() {
        return windowCount;
    }

    /** Batches per rank that cover every window of an epoch at least once (the last may run into the next epoch). */
    public long batchesPerEpoch() {
        long perBatch = (long) batchSize * options.worldSize();
        return (windowCount + perBatch - 1) / perBatch;
    }

    public int batchSize() {
        return batchSize;
    }

    public int seqLen() {
        return seqLen;
    }

    public Split split() {
        return split;
    }

    public Options options() {
        return options;
    }

    /** The shards that hold at least one window, in serving order. */
    public List<Path> shardFiles() {
        return Arrays.stream(shards).map(TokenShard::file).toList();
    }

    /** Tokens in the served shards. */
    public long tokenCount() {
        long n = 0;
        for (TokenShard s : shards) {
            n += s.tokenCount();
        }
        return n;
    }

    /** The directory's {@code tokenizer.json}, when it has one. */
    public Optional<TokenizerInfo> tokenizerInfo() {
        return Optional.ofNullable(tokenizerInfo);
    }

    /** Things a user may want to know (shards skipped for being shorter than one window). */
    public List<String> notes() {
        return List.copyOf(notes);
    }

    @Override
    public String toString() {
        return split.tag() + " data in " + dir + ": " + shards.length + " shard(s), " + tokenCount() + " tokens, "
                + windowCount + " windows of " + seqLen + "+1 tokens, batch " + batchSize + " x " + seqLen
                + (options.worldSize() > 1 ? ", rank " + options.rank() + " of " + options.worldSize() : "");
    }
}
