package sffn.train.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes one split as numbered shards, {@code <prefix>_<split>_000000.bin, ...}, starting the next
 * shard when one holds {@code shardTokens} tokens (documents run on across shard ends, as in llm.c's
 * scripts). A shard is created only when a token goes into it.
 */
final class ShardSeries implements AutoCloseable {
    private final Path dir;
    private final String prefix;
    private final Split split;
    private final int vocabSize;
    private final long shardTokens;
    private final List<Path> files = new ArrayList<>();
    private TokenShardWriter current;
    private long total;

    ShardSeries(Path dir, String prefix, Split split, int vocabSize, long shardTokens) {
        if (shardTokens < 1 || shardTokens > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("tokens per shard must be between 1 and " + Integer.MAX_VALUE
                    + " (a shard header counts tokens in an int32), got " + shardTokens);
        }
        this.dir = dir;
        this.prefix = prefix;
        this.split = split;
        this.vocabSize = vocabSize;
        this.shardTokens = shardTokens;
    }

    void write(int[] tokens) throws IOException {
        int i = 0;
        while (i < tokens.length) {
            if (current == null || current.tokenCount() == shardTokens) {
                roll();
            }
            int n = (int) Math.min(tokens.length - i, shardTokens - current.tokenCount());
            current.write(tokens, i, n);
            i += n;
        }
        total += tokens.length;
    }

    private void roll() throws IOException {
        if (current != null) {
            current.close();
        }
        Path file = dir.resolve(split.shardName(prefix, files.size()));
        current = new TokenShardWriter(file, vocabSize);
        files.add(file);
    }

    List<Path> files() {
        return List.copyOf(files);
    }

    long tokenCount() {
        return total;
    }

    @Override
    public void close() throws IOException {
        if (current != null) {
            current.close();
            current = null;
        }
    }

    /** After a failure: drops the shard being written and deletes those finished, so no partial split is left. */
    void abort() throws IOException {
        if (current != null) {
            current.abort();
            current = null;
        }
        for (Path f : files) {
            Files.deleteIfExists(f);
        }
        files.clear();
        total = 0;
    }
}
