package sffn.train.data;

import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import sffn.nn.tokenizer.ByteTokenizer;
import sffn.nn.tokenizer.Tokenizer;
import sffn.nn.tokenizer.TokenizerInfo;
import sffn.nn.tokenizer.Tokenizers;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import java.util.stream.Stream;

/**
 * Turns text files into token shards: {@code sffn prepare}.
 *
 * <p>Each file is a document. Files are taken in the order given, folders recursively in path order
 * (hidden files and folders, whose names start with '.', are left out unless named directly); files
 * that are empty, not UTF-8, or hold NUL bytes are skipped with a warning. A seeded draw over the
 * documents sends about {@code valFraction} of the text (by bytes, standing in for tokens) to the
 * validation split, at least one document when there are two or more; a single document gives its
 * tail, from a line start, instead. Within a split the documents keep their order; each is preceded
 * by the end-of-text token where the tokenizer has one (as llm.c's scripts do), and byte-tokenized
 * documents are joined with a blank line.
 *
 * <p>Output, in {@code out}: {@code <name>_train_NNNNNN.bin}, {@code <name>_val_NNNNNN.bin} (see
 * {@link TokenShard}) and {@code tokenizer.json}.
 */
public final class Prepare {

    /**
     * @param inputs      text files and folders of them
     * @param tokenizer   a {@link Tokenizers} name
     * @param out         output folder (created when missing)
     * @param name        shard name prefix; null for the output folder's name
     * @param valFraction share of the text for validation, {@code 0 <= f < 1}
     * @param shardTokens tokens per shard, at most 2^31-1
     * @param seed        drives the train/val draw
     * @param overwrite   replace shards already in {@code out} (else they are an error)
     * @param progress    show a progress bar on stderr
     */
    public record Options(List<Path> inputs, String tokenizer, Path out, String name, double valFraction,
                          long shardTokens, long seed, boolean overwrite, boolean progress) {
        public static final double DEFAULT_VAL_FRACTION = 0.01;
        public static final long DEFAULT_SHARD_TOKENS = 100_000_000L;

        public Options {
            if (inputs == null || inputs.isEmpty()) {
                throw new IllegalArgumentException("no input given: name text files or folders of them");
            }
            inputs = List.copyOf(inputs);
            if (out == null) {
                throw new IllegalArgumentException("no output folder given");
            }
            if (!(valFraction >= 0 && valFraction < 1)) {
                throw new IllegalArgumentException("validation fraction must be at least 0 and below 1, got " + valFraction);
            }
            if (shardTokens < 1 || shardTokens > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("tokens per shard must be between 1 and " + Integer.MAX_VALUE
                        + " (a shard header counts tokens in an int32), got " + shardTokens);
            }
            if (name != null && !SAFE_NAME.matcher(name).matches()) {
                throw new IllegalArgumentException("shard name '" + name + "' may hold only letters, digits, '.', '-' and '_'");
            }
        }

        /** Defaults: validation 1%, 10^8 tokens per shard, seed 0, no overwrite, no progress bar. */
        public static Options of(List<Path> inputs, String tokenizer, Path out) {
            return new Options(inputs, tokenizer, out, null, DEFAULT_VAL_FRACTION, DEFAULT_SHARD_TOKENS, 0, false, false);
        }

        public Options withName(String name) {
            return new Options(inputs, tokenizer, out, name, valFraction, shardTokens, seed, overwrite, progress);
        }

        public Options withValFraction(double valFraction) {
            return new Options(inputs, tokenizer, out, name, valFraction, shardTokens, seed, overwrite, progress);
        }

        public Options withShardTokens(long shardTokens) {
            return new Options(inputs, tokenizer, out, name, valFraction, shardTokens, seed, overwrite, progress);
        }

        public Options withSeed(long seed) {
            return new Options(inputs, tokenizer, out, name, valFraction, shardTokens, seed, overwrite, progress);
        }

        public Options withOverwrite(boolean overwrite) {
            return new Options(inputs, tokenizer, out, name, valFraction, shardTokens, seed, overwrite, progress);
        }

        public Options withProgress(boolean progress) {
            return new Options(inputs, tokenizer, out, name, valFraction, shardTokens, seed, overwrite, progress);
        }

        /** The shard prefix: {@link #name} or the output folder's name made safe. */
        public String prefix() {
            if (name != null) {
                return name;
            }
            Path abs = out.toAbsolutePath().normalize();
            String base = abs.getFileName() == null ? "data" : abs.getFileName().toString();
            String safe = base.replaceAll("[^A-Za-z0-9._-]", "-");
            return safe.isEmpty() ? "data" : safe;
        }
    }

    /** Bytes {@code [start, end)} of {@code file}, going to {@code split}. */
    public record Document(Path file, long start, long end, Split split) {
        public long bytes() {
            return end - start;
        }
    }

    /** What a run did. */
    public record Summary(String tokenizer, Path out, List<Document> documents, long inputBytes,
                          long trainTokens, long valTokens, List<Path> trainShards, List<Path> valShards,
                          List<String> warnings, Duration elapsed) {

        public long documentCount(Split split) {
            return documents.stream().filter(d -> d.split() == split).count();
        }

        /** A few lines for the user. */
        public String report() {
            StringBuilder sb = new StringBuilder();
            double seconds = Math.max(1e-3, elapsed.toNanos() / 1e9);
            sb.append(String.format(Locale.ROOT, "Prepared %d documents (%s of text) with tokenizer %s in %.1f s:"
                            + " %,.0f tokens/s, %.1f MiB/s of text%n", documents.size(), bytes(inputBytes), tokenizer,
                    seconds, (trainTokens + valTokens) / seconds, inputBytes / seconds / 1048576.0));
            line(sb, "train", documentCount(Split.TRAIN), trainTokens, trainShards);
            line(sb, "val", documentCount(Split.VAL), valTokens, valShards);
            if (!warnings.isEmpty()) {
                sb.append(String.format(Locale.ROOT, "  skipped: %d file(s), see the warnings above%n", warnings.size()));
            }
            sb.append("  output: ").append(out.toAbsolutePath().normalize()).append(" (shards and ")
                    .append(TokenizerInfo.FILE_NAME).append(")");
            return sb.toString();
        }

        private static void line(StringBuilder sb, String split, long docs, long tokens, List<Path> shards) {
            sb.append(String.format(Locale.ROOT, "  %-6s %,d documents, %,d tokens in %d shard%s", split + ":", docs, tokens,
                    shards.size(), shards.size() == 1 ? "" : "s"));
            if (!shards.isEmpty()) {
                sb.append(" (").append(shards.get(0).getFileName());
                if (shards.size() > 1) {
                    sb.append(" .. ").append(shards.get(shards.size() - 1).getFileName());
                }
                sb.append(")");
            }
            sb.append(System.lineSeparator());
        }

        private static String bytes(long n) {
            return n >= 1 << 20 ? String.format(Locale.ROOT, "%.1f MiB", n / 1048576.0)
                    : n >= 1 << 10 ? String.format(Locale.ROOT, "%.1f KiB", n / 1024.0) : n + " bytes";
        }
    }

    private static final Pattern SAFE_NAME = Pattern.compile("[A-Za-z0-9._-]+");
    private static final Pattern SHARD_FILE = Pattern.compile(".+_(train|val)(_\\d+)?\\.bin");
    /** What {@link TokenShardWriter} writes a shard as until it is whole; left behind only by a killed run. */
    private static final Pattern SHARD_TEMP = Pattern.compile(".+_(train|val)(_\\d+)?\\.bin\\.tmp");
    private static final byte[] BOM = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};
    private static final int DEFAULT_CHUNK_BYTES = 8 << 20;

    private Prepare() {
    }

    /**
     * Runs the preparation.
     *
     * @param warnings receives one line per skipped file as it is found
     * @throws IllegalArgumentException for user errors: unknown tokenizer, missing input, no text found,
     *                                  output folder already holding shards (without overwrite)
     */
    public static Summary run(Options options, Consumer<String> warnings) throws IOException {
        return run(options, warnings, warnings, DEFAULT_CHUNK_BYTES);
    }

    /** As {@link #run(Options, Consumer)}; {@code notes} receives other messages (a tokenizer being fetched). */
    public static Summary run(Options options, Consumer<String> warnings, Consumer<String> notes) throws IOException {
        return run(options, warnings, notes, DEFAULT_CHUNK_BYTES);
    }

    static Summary run(Options options, Consumer<String> warnings, int chunkBytes) throws IOException {
        return run(options, warnings, warnings, chunkBytes);
    }

    /**
     * @param chunkBytes a document is read and encoded this many bytes at a time, cut only where
     *                   the encodings give the same tokens as for the whole text (see {@link #safeCut})
     */
    static Summary run(Options options, Consumer<String> warnings, Consumer<String> notes, int chunkBytes)
            throws IOException {
        long t0 = System.nanoTime();
        Tokenizer tokenizer = Tokenizers.resolve(options.tokenizer(), notes);
        Path out = options.out();
        checkOverlap(options.inputs(), out);
        checkOutput(out, options.overwrite(), warnings);

        List<String> skipped = new ArrayList<>();
        Consumer<String> skip = w -> {
            skipped.add(w);
            warnings.accept(w);
        };
        List<Document> docs = findDocuments(options.inputs(), out, skip);
        if (docs.isEmpty()) {
            throw new IllegalArgumentException("found no text to prepare in " + options.inputs()
                    + (skipped.isEmpty() ? "" : " (" + skipped.size() + " file(s) skipped, see the warnings)"));
        }
        docs = assignSplits(docs, options.valFraction(), options.seed());
        long inputBytes = docs.stream().mapToLong(Document::bytes).sum();

        Files.createDirectories(out);
        String prefix = options.prefix();
        ShardSeries train = new ShardSeries(out, prefix, Split.TRAIN, tokenizer.vocabSize(), options.shardTokens());
        ShardSeries val = new ShardSeries(out, prefix, Split.VAL, tokenizer.vocabSize(), options.shardTokens());
        ProgressBar bar = options.progress() ? new ProgressBarBuilder().setTaskName("Tokenizing")
                .setInitialMax(inputBytes).setUnit(" MiB", 1 << 20).setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(250).showSpeed().build() : null;
        boolean done = false;
        try {
            boolean[] started = new boolean[2];
            byte[] blankLine = "\n\n".getBytes(StandardCharsets.UTF_8);
            Pending pending = new Pending(tokenizer, 4L * chunkBytes, bar);
            for (Document d : docs) {
                ShardSeries series = d.split() == Split.TRAIN ? train : val;
                if (tokenizer.hasEndOfText()) {
                    pending.addTokens(series, new int[] {tokenizer.endOfText()});
                } else if (started[d.split().ordinal()]) {
                    pending.addTokens(series, byteTokens(blankLine));
                }
                started[d.split().ordinal()] = true;
                readDocument(d, series, chunkBytes, pending, tokenizer.cutsAfterNewline());
            }
            pending.flush();
            train.close();
            val.close();
            TokenizerInfo.of(tokenizer).write(out.resolve(TokenizerInfo.FILE_NAME));
            done = true;
        } finally {
            if (bar != null) {
                bar.close();
            }
            if (!done) {
                train.abort();
                val.abort();
            }
        }
        return new Summary(tokenizer.name(), out, List.copyOf(docs), inputBytes, train.tokenCount(), val.tokenCount(),
                train.files(), val.files(), List.copyOf(skipped), Duration.ofNanos(System.nanoTime() - t0));
    }

    /** The tokens one tokenizer gives the whole of a split's documents, as {@link #run} writes them (for tests). */
    static int[] expectedTokens(Tokenizer tokenizer, List<String> documents) {
        List<int[]> parts = new ArrayList<>();
        for (int i = 0; i < documents.size(); i++) {
            if (tokenizer.hasEndOfText()) {
                parts.add(new int[] {tokenizer.endOfText()});
            } else if (i > 0) {
                parts.add(tokenizer.encode("\n\n"));
            }
            parts.add(tokenizer.encode(documents.get(i)));
        }
        int n = parts.stream().mapToInt(p -> p.length).sum();
        int[] all = new int[n];
        int at = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        return all;
    }

    private static int[] byteTokens(byte[] bytes) {
        int[] t = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            t[i] = bytes[i] & 0xFF;
        }
        return t;
    }

    /**
     * Refuses an output folder equal to, inside or containing an input (links resolved): shards
     * would mix with the text, and {@code --force} deletes shard-named files there.
     */
    private static void checkOverlap(List<Path> inputs, Path out) throws IOException {
        Path o = sffn.train.OutputDirectory.realPath(out);
        for (Path input : inputs) {
            Path i = sffn.train.OutputDirectory.realPath(input);
            String how = o.equals(i) ? "is" : o.startsWith(i) ? "is inside" : i.startsWith(o) ? "contains" : null;
            if (how != null) {
                throw new IllegalArgumentException("output folder " + out + " " + how + " the input " + input
                        + " (links resolved); choose an output folder apart from the inputs");
            }
        }
    }

    private static void checkOutput(Path out, boolean overwrite, Consumer<String> warnings) throws IOException {
        if (Files.exists(out) && !Files.isDirectory(out)) {
            throw new IllegalArgumentException("output " + out + " exists and is not a folder");
        }
        if (!Files.isDirectory(out)) {
            return;
        }
        List<Path> temps;
        try (Stream<Path> list = Files.list(out)) {
            temps = list.filter(p -> SHARD_TEMP.matcher(p.getFileName().toString()).matches()).sorted().toList();
        }
        for (Path p : temps) {
            warnings.accept("removing " + p + ", an unfinished shard left by an interrupted prepare");
            Files.delete(p);
        }
        List<Path> old;
        try (Stream<Path> list = Files.list(out)) {
            old = list.filter(p -> SHARD_FILE.matcher(p.getFileName().toString()).matches()).sorted().toList();
        }
        if (old.isEmpty()) {
            return;
        }
        if (!overwrite) {
            throw new IllegalArgumentException("output folder " + out + " already holds token shards ("
                    + old.get(0).getFileName() + (old.size() > 1 ? " and " + (old.size() - 1) + " more" : "")
                    + "); choose another folder or overwrite them (--force)");
        }
        for (Path p : old) {
            Files.delete(p);
        }
        Files.deleteIfExists(out.resolve(TokenizerInfo.FILE_NAME));
    }

    // ---- finding and checking the documents ----

    private static List<Document> findDocuments(List<Path> inputs, Path out, Consumer<String> skip) throws IOException {
        Path outReal = Files.isDirectory(out) ? out.toRealPath() : null;
        Set<Path> seen = new HashSet<>();
        List<Document> docs = new ArrayList<>();
        for (Path input : inputs) {
            if (!Files.exists(input)) {
                throw new IllegalArgumentException("input " + input + " does not exist");
            }
            List<Path> files;
            if (Files.isDirectory(input)) {
                try (Stream<Path> walk = Files.walk(input)) {
                    files = walk.filter(p -> !hidden(input, p) && Files.isRegularFile(p)).sorted().toList();
                }
            } else {
                files = List.of(input);
            }
            for (Path f : files) {
                Path real = f.toRealPath();
                if (!seen.add(real) || (outReal != null && real.startsWith(outReal))) {
                    continue;
                }
                Document d = checkText(f, skip);
                if (d != null) {
                    docs.add(d);
                }
            }
        }
        return docs;
    }

    private static boolean hidden(Path root, Path p) {
        for (Path part : root.relativize(p)) {
            if (part.toString().startsWith(".")) {
                return true;
            }
        }
        return false;
    }

    /** The document a file makes (its whole text, less a byte-order mark), or null when it is skipped. */
    private static Document checkText(Path file, Consumer<String> skip) {
        try (InputStream in = Files.newInputStream(file)) {
            CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
            int block = (int) Math.min(1 << 16, Math.max(16, Files.size(file)));
            ByteBuffer bytes = ByteBuffer.allocate(block);
            CharBuffer chars = CharBuffer.allocate(block);
            long offset = 0;
            long size = 0;
            byte[] head = new byte[3];
            int headLen = 0;
            while (true) {
                int n = in.read(bytes.array(), bytes.position(), bytes.remaining());
                boolean end = n < 0;
                if (n > 0) {
                    for (int i = bytes.position(); i < bytes.position() + n; i++) {
                        if (bytes.array()[i] == 0) {
                            skip.accept("skipping " + file + ": binary (it holds a NUL byte at offset " + (size + i - bytes.position()) + ")");
                            return null;
                        }
                        if (headLen < 3) {
                            head[headLen++] = bytes.array()[i];
                        }
                    }
                    size += n;
                    bytes.position(bytes.position() + n);
                }
                bytes.flip();
                int before = bytes.position();
                CoderResult r = utf8.decode(bytes, chars.clear(), end);
                if (r.isError()) {
                    skip.accept("skipping " + file + ": not UTF-8 text (invalid byte sequence at offset "
                            + (offset + bytes.position()) + ")");
                    return null;
                }
                offset += bytes.position() - before;
                bytes.compact();
                if (end) {
                    break;
                }
            }
            long start = headLen == 3 && Arrays.equals(head, BOM) ? 3 : 0;
            if (size - start == 0) {
                skip.accept("skipping " + file + ": empty");
                return null;
            }
            return new Document(file, start, size, Split.TRAIN);
        } catch (IOException e) {
            skip.accept("skipping " + file + ": cannot read it (" + e.getMessage() + ")");
            return null;
        }
    }

    // ---- the train/val draw ----

    /**
     * Marks documents for validation: in a seeded order, each document whose bytes still fit under
     * {@code valFraction} of the total joins; when none fits, the smallest joins (so there is always
     * one with two or more documents). A single document is split instead at the first line start
     * after {@code (1 - valFraction)} of its bytes (or the last before, or failing that, any
     * character boundary).
     */
    static List<Document> assignSplits(List<Document> docs, double valFraction, long seed) throws IOException {
        if (valFraction == 0) {
            return docs;
        }
        if (docs.size() == 1) {
            Document d = docs.get(0);
            long cut = tailCut(d, valFraction);
            if (cut <= d.start() || cut >= d.end()) {
                return docs;
            }
            return List.of(new Document(d.file(), d.start(), cut, Split.TRAIN), new Document(d.file(), cut, d.end(), Split.VAL));
        }
        long total = docs.stream().mapToLong(Document::bytes).sum();
        double target = valFraction * total;
        int[] order = WindowOrder.shuffled(docs.size(), seed, 0);
        boolean[] isVal = new boolean[docs.size()];
        long valBytes = 0;
        for (int i : order) {
            if (valBytes + docs.get(i).bytes() <= target) {
                isVal[i] = true;
                valBytes += docs.get(i).bytes();
            }
        }
        if (valBytes == 0) {
            int smallest = order[0];
            for (int i : order) {
                if (docs.get(i).bytes() < docs.get(smallest).bytes()) {
                    smallest = i;
                }
            }
            isVal[smallest] = true;
        }
        List<Document> out = new ArrayList<>(docs.size());
        for (int i = 0; i < docs.size(); i++) {
            Document d = docs.get(i);
            out.add(isVal[i] ? new Document(d.file(), d.start(), d.end(), Split.VAL) : d);
        }
        return out;
    }

    /** Window read around the target of {@link #tailCut}; a line start is looked for within it. */
    private static final int TAIL_CUT_WINDOW = 1 << 20;

    private static long tailCut(Document d, double valFraction) throws IOException {
        long target = d.end() - Math.max(1, Math.round(valFraction * d.bytes()));
        long from = Math.max(d.start(), target - TAIL_CUT_WINDOW);
        long to = Math.min(d.end(), target + TAIL_CUT_WINDOW);
        byte[] all = new byte[(int) (to - from)];
        try (FileChannel ch = FileChannel.open(d.file(), StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.wrap(all);
            while (buf.hasRemaining() && ch.read(buf, from + buf.position()) >= 0) {
                // positional reads may return short counts
            }
        }
        int t = (int) (target - from);
        for (int i = Math.max(t, 1); i < all.length; i++) {
            if (all[i - 1] == '\n') {
                return from + i;
            }
        }
        for (int i = Math.min(t, all.length - 1); i > 0; i--) {
            if (all[i - 1] == '\n') {
                return from + i;
            }
        }
        for (int i = Math.max(t, 1); i < all.length; i++) {
            if ((all[i] & 0xC0) != 0x80) {
                return from + i;
            }
        }
        return d.end();
    }

    // ---- encoding ----

    /**
     * Pieces of text in output order, encoded in parallel (documents, and chunks of one document,
     * are independent) and written in order once {@code limit} bytes are waiting.
     */
    private static final class Pending {
        private final Tokenizer tokenizer;
        private final long limit;
        private final ProgressBar bar;
        private final List<ShardSeries> series = new ArrayList<>();
        private final List<Object> pieces = new ArrayList<>();
        private long bytes;

        Pending(Tokenizer tokenizer, long limit, ProgressBar bar) {
            this.tokenizer = tokenizer;
            this.limit = limit;
            this.bar = bar;
        }

        void addTokens(ShardSeries to, int[] tokens) throws IOException {
            series.add(to);
            pieces.add(tokens);
        }

        void addText(ShardSeries to, byte[] utf8, int len, boolean documentStart) throws IOException {
            series.add(to);
            pieces.add(documentStart ? new DocumentStart(Arrays.copyOf(utf8, len)) : Arrays.copyOf(utf8, len));
            bytes += len;
            if (bytes >= limit) {
                flush();
            }
        }

        void flush() throws IOException {
            int[][] encoded = IntStream.range(0, pieces.size()).parallel().mapToObj(i -> encode(pieces.get(i)))
                    .toArray(int[][]::new);
            for (int i = 0; i < encoded.length; i++) {
                series.get(i).write(encoded[i]);
            }
            if (bar != null) {
                bar.stepBy(bytes);
            }
            series.clear();
            pieces.clear();
            bytes = 0;
        }

        private int[] encode(Object piece) {
            if (piece instanceof int[] tokens) {
                return tokens;
            }
            if (piece instanceof DocumentStart(byte[] utf8)) {
                return tokenizer instanceof ByteTokenizer ? byteTokens(utf8)
                        : tokenizer.encode(new String(utf8, StandardCharsets.UTF_8));
            }
            byte[] utf8 = (byte[]) piece;
            return tokenizer instanceof ByteTokenizer ? byteTokens(utf8)
                    : tokenizer.encodeContinuation(new String(utf8, StandardCharsets.UTF_8));
        }
    }

    /** The first piece of a document's text (encoded with what only a text's start gets). */
    private record DocumentStart(byte[] utf8) {
    }

    /** Reads a document in chunks of about {@code chunkBytes}, cut where encoding them apart changes nothing. */
    private static void readDocument(Document d, ShardSeries out, int chunkBytes, Pending pending, boolean canCut)
            throws IOException {
        int maxUncut = 8 * chunkBytes;
        boolean first = true;
        try (FileChannel ch = FileChannel.open(d.file(), StandardOpenOption.READ)) {
            byte[] buf = new byte[(int) Math.min(chunkBytes, d.bytes())];
            int have = 0;
            long pos = d.start();
            while (true) {
                int want = (int) Math.min(chunkBytes, d.end() - pos);
                if (buf.length - have < want) {
                    buf = Arrays.copyOf(buf, Math.max(2 * buf.length, have + want));
                }
                ByteBuffer into = ByteBuffer.wrap(buf, have, want);
                while (into.hasRemaining()) {
                    if (ch.read(into, pos + (into.position() - have)) < 0) {
                        throw new IOException(d.file() + " became shorter while it was being read");
                    }
                }
                pos += want;
                have += want;
                boolean last = pos >= d.end();
                int cut = last ? have : canCut ? safeCut(buf, have) : -1;
                if (cut < 0) {
                    if (have < maxUncut) {
                        continue;
                    }
                    // no safe cut in 8 chunks: the tokens at this cut may differ from the whole text's
                    cut = charStart(buf, have);
                }
                if (cut > 0) {
                    pending.addText(out, buf, cut, first);
                    first = false;
                    System.arraycopy(buf, cut, buf, 0, have - cut);
                    have -= cut;
                }
                if (last) {
                    return;
                }
            }
        }
    }

    /**
     * The end of the longest prefix of {@code buf[0, n)} that can be encoded apart from what follows
     * with the same tokens as the whole: just after a '\n' that has a printable ASCII character on
     * either side, or -1 if there is none. There, GPT-2's and cl100k's pre-tokenizer patterns end a
     * piece on both sides of the newline (no pattern joins "\n" to a following non-space, and a
     * preceding non-space stops a run of white space), so the pieces, and the tokens, do not change.
     */
    static int safeCut(byte[] buf, int n) {
        for (int i = n - 2; i >= 1; i--) {
            if (buf[i] == '\n' && printable(buf[i - 1]) && printable(buf[i + 1])) {
                return i + 1;
            }
        }
        return -1;
    }

    private static boolean printable(byte b) {
        return b >= 0x21 && b <= 0x7E;
    }

    /** The start of the last character in {@code buf[0, n)} (a cut there splits no character). */
    private static int charStart(byte[] buf, int n) {
        int i = n - 1;
        while (i > 0 && (buf[i] & 0xC0) == 0x80) {
            i--;
        }
        return i;
    }
}
