package sffn.train.data;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A token shard in llm.c's layout, memory-mapped: a header of 256 little-endian int32 (magic
 * 20240520, version, token count, the rest zero), then the tokens as little-endian uint16
 * (version 1) or uint32 (version 2). Shards written by llm.c's data scripts read here and ours
 * read there (llm.c's GPT-2 loader takes version 1 only).
 *
 * <p>The mapping is released when the instance becomes unreachable (Java 21 has no explicit unmap
 * outside the preview FFM API). Reads are thread-safe.
 */
public final class TokenShard {
    public static final int MAGIC = 20240520;
    public static final int HEADER_INTS = 256;
    public static final int HEADER_BYTES = HEADER_INTS * Integer.BYTES;
    /** Version 1: uint16 tokens, for vocabularies up to 65536. */
    public static final int VERSION_UINT16 = 1;
    /** Version 2: uint32 tokens (llm.c's Llama 3 scripts). */
    public static final int VERSION_UINT32 = 2;

    /** Mapped pieces of 2^30 bytes: a multiple of both token widths, so no token straddles two pieces. */
    private static final int PIECE_SHIFT = 30;
    private static final long PIECE_MASK = (1L << PIECE_SHIFT) - 1;

    private final Path file;
    private final int version;
    private final int tokenCount;
    private final int shift;
    private final MappedByteBuffer[] pieces;

    private TokenShard(Path file, int version, int tokenCount, MappedByteBuffer[] pieces) {
        this.file = file;
        this.version = version;
        this.tokenCount = tokenCount;
        this.shift = version == VERSION_UINT16 ? 1 : 2;
        this.pieces = pieces;
    }

    /** Token width in bytes for a header version, or -1 for a version this runtime does not read. */
    static int tokenBytes(int version) {
        return switch (version) {
            case VERSION_UINT16 -> 2;
            case VERSION_UINT32 -> 4;
            default -> -1;
        };
    }

    /**
     * Opens and checks a shard: its header must be whole, carry the magic and a known version, and
     * promise exactly as many tokens as the file holds.
     *
     * @throws IllegalArgumentException naming the file and what is wrong with it
     */
    public static TokenShard open(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < HEADER_BYTES) {
                throw new IllegalArgumentException(file + " is not an llm.c token shard: it holds " + size
                        + " bytes, fewer than the " + HEADER_BYTES + "-byte header (256 int32)");
            }
            ByteBuffer header = ByteBuffer.allocate(3 * Integer.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            while (header.hasRemaining() && ch.read(header, header.position()) >= 0) {
                // FileChannel.read may return short counts
            }
            int magic = header.getInt(0);
            int version = header.getInt(4);
            int count = header.getInt(8);
            if (magic != MAGIC) {
                throw new IllegalArgumentException(file + " is not an llm.c token shard: its header starts with "
                        + magic + " where a shard has the magic number " + MAGIC);
            }
            int width = tokenBytes(version);
            if (width < 0) {
                throw new IllegalArgumentException(file + " has token shard version " + version
                        + ", which this runtime does not read (1 = uint16 tokens, 2 = uint32 tokens)");
            }
            long payload = size - HEADER_BYTES;
            if (count < 0 || payload != (long) count * width) {
                throw new IllegalArgumentException(file + " is truncated or damaged: its header promises " + count
                        + " tokens (" + ((long) count * width + HEADER_BYTES) + " bytes with the header) but the file holds "
                        + (payload / width) + " tokens (" + size + " bytes" + (payload % width != 0 ? ", not a whole number of "
                        + width + "-byte tokens" : "") + "); prepare the shard again");
            }
            int nPieces = (int) ((payload + PIECE_MASK) >>> PIECE_SHIFT);
            MappedByteBuffer[] pieces = new MappedByteBuffer[nPieces];
            for (int p = 0; p < nPieces; p++) {
                long from = (long) p << PIECE_SHIFT;
                long len = Math.min(payload - from, 1L << PIECE_SHIFT);
                pieces[p] = ch.map(FileChannel.MapMode.READ_ONLY, HEADER_BYTES + from, len);
                pieces[p].order(ByteOrder.LITTLE_ENDIAN);
            }
            return new TokenShard(file, version, count, pieces);
        }
    }

    public Path file() {
        return file;
    }

    /** {@link #VERSION_UINT16} or {@link #VERSION_UINT32}. */
    public int version() {
        return version;
    }

    public int tokenCount() {
        return tokenCount;
    }

    /** Token {@code i}, {@code 0 <= i < tokenCount()}. */
    public int get(int i) {
        if (i < 0 || i >= tokenCount) {
            throw new IndexOutOfBoundsException("token " + i + " of " + file + ", which holds " + tokenCount);
        }
        long at = (long) i << shift;
        MappedByteBuffer piece = pieces[(int) (at >>> PIECE_SHIFT)];
        int off = (int) (at & PIECE_MASK);
        return shift == 1 ? piece.getShort(off) & 0xFFFF : piece.getInt(off);
    }

    /** Copies tokens {@code [from, from+len)} into {@code dst[dstOff ..]}. */
    public void copy(int from, int[] dst, int dstOff, int len) {
        if (from < 0 || len < 0 || from > tokenCount - len) {
            throw new IndexOutOfBoundsException("tokens " + from + ".." + ((long) from + len) + " of " + file
                    + ", which holds " + tokenCount);
        }
        java.util.Objects.checkFromIndexSize(dstOff, len, dst.length);
        int i = 0;
        while (i < len) {
            long at = (long) (from + i) << shift;
            MappedByteBuffer piece = pieces[(int) (at >>> PIECE_SHIFT)];
            int off = (int) (at & PIECE_MASK);
            int n = Math.min(len - i, (piece.limit() - off) >>> shift);
            if (shift == 1) {
                for (int k = 0; k < n; k++) {
                    dst[dstOff + i + k] = piece.getShort(off + (k << 1)) & 0xFFFF;
                }
            } else {
                for (int k = 0; k < n; k++) {
                    dst[dstOff + i + k] = piece.getInt(off + (k << 2));
                }
            }
            i += n;
        }
    }

    /**
     * Index of the first token in {@code [from, from+len)} that is negative (a uint32 above 2^31-1) or
     * {@code >= vocabSize}, or -1 when all are inside the vocabulary.
     */
    public int findOutOfVocab(int from, int len, int vocabSize) {
        int[] buf = new int[Math.min(len, 1 << 16)];
        for (int done = 0; done < len; ) {
            int n = Math.min(buf.length, len - done);
            copy(from + done, buf, 0, n);
            for (int k = 0; k < n; k++) {
                if (buf[k] < 0 || buf[k] >= vocabSize) {
                    return from + done + k;
                }
            }
            done += n;
        }
        return -1;
    }

    /** The error for token {@code index} lying outside a model's vocabulary. */
    IllegalArgumentException outOfVocab(int index, int vocabSize) {
        long value = Integer.toUnsignedLong(get(index));
        return new IllegalArgumentException(file + " holds token " + value + " at position " + index
                + ", outside the model's vocabulary of " + vocabSize + " ids (0.." + (vocabSize - 1)
                + "): the shards were made with a different tokenizer than the model's");
    }

    @Override
    public String toString() {
        return file + " (" + tokenCount + " tokens, version " + version + ")";
    }
}
