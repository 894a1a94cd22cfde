package sffn.train.data;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Streams tokens into a {@link TokenShard} file. The tokens go to {@code <file>.tmp}; {@link #close}
 * writes the header with the final count and renames the file into place, so a crash never leaves a
 * shard that looks whole. The version is fixed up front from the vocabulary: 1 (uint16) when every id
 * fits 16 bits (vocabulary up to 65536), else 2 (uint32).
 */
public final class TokenShardWriter implements AutoCloseable {
    private final Path file;
    private final Path tmp;
    private final int vocabSize;
    private final int version;
    private final FileChannel channel;
    private final ByteBuffer buffer = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
    private long count;
    private boolean failed;
    private boolean closed;

    /** Starts a shard for tokens of a vocabulary of {@code vocabSize} ids. */
    public TokenShardWriter(Path file, int vocabSize) throws IOException {
        if (vocabSize <= 0) {
            throw new IllegalArgumentException("vocabulary size must be positive, got " + vocabSize);
        }
        this.file = file;
        this.tmp = file.resolveSibling(file.getFileName() + ".tmp");
        this.vocabSize = vocabSize;
        this.version = versionFor(vocabSize);
        this.channel = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE);
        channel.position(TokenShard.HEADER_BYTES);
    }

    /** The shard version that holds every id of a vocabulary of {@code vocabSize} ids. */
    public static int versionFor(int vocabSize) {
        return vocabSize <= (1 << 16) ? TokenShard.VERSION_UINT16 : TokenShard.VERSION_UINT32;
    }

    public Path file() {
        return file;
    }

    public int version() {
        return version;
    }

    /** Tokens written so far. */
    public long tokenCount() {
        return count;
    }

    public void write(int token) throws IOException {
        if (token < 0 || token >= vocabSize) {
            failed = true;
            throw new IllegalArgumentException("token " + token + " is outside the vocabulary of " + vocabSize
                    + " ids for which " + file + " is being written");
        }
        if (count == Integer.MAX_VALUE) {
            failed = true;
            throw new IllegalArgumentException(file + " cannot hold more than " + Integer.MAX_VALUE
                    + " tokens (the header's count is an int32); write smaller shards");
        }
        if (buffer.remaining() < Integer.BYTES) {
            drain();
        }
        if (version == TokenShard.VERSION_UINT16) {
            buffer.putShort((short) token);
        } else {
            buffer.putInt(token);
        }
        count++;
    }

    public void write(int[] tokens, int off, int len) throws IOException {
        for (int i = off; i < off + len; i++) {
            write(tokens[i]);
        }
    }

    private void drain() throws IOException {
        buffer.flip();
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
        buffer.clear();
    }

    /**
     * Finishes the shard: header, then the rename into place. After a failed write the temporary
     * file is deleted instead and no shard appears.
     */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try (channel) {
            if (failed) {
                return;
            }
            drain();
            ByteBuffer header = ByteBuffer.allocate(TokenShard.HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            header.putInt(TokenShard.MAGIC).putInt(version).putInt((int) count).rewind();
            channel.position(0);
            while (header.hasRemaining()) {
                channel.write(header);
            }
        } finally {
            if (failed) {
                Files.deleteIfExists(tmp);
            }
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Abandons the shard: the temporary file is deleted and no shard appears. */
    public void abort() throws IOException {
        failed = true;
        close();
    }
}
