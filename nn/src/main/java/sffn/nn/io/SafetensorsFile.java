package sffn.nn.io;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import sffn.kernels.ByteTensor;
import sffn.kernels.IntTensor;
import sffn.kernels.ShortTensor;
import sffn.kernels.Tensor;
import sffn.nn.io.Safetensors.Dtype;

/**
 * An open safetensors file whose header has been validated: the header length is at most
 * {@link Safetensors#MAX_HEADER_BYTES} and fits the file, the header is one JSON object without
 * duplicate keys, every tensor has a known dtype, a shape of non-negative integers and
 * {@code data_offsets [begin, end]} with {@code end - begin = numel * dtype size}, and the
 * tensors tile the data region exactly (sorted by offset, each starts where the previous ends,
 * the last ends at the end of the file). Anything else raises {@link CheckpointFormatException}
 * at {@link #open}, so reads cannot fall outside a tensor.
 *
 * <p>Not thread-safe: reads share one chunk buffer.
 */
public final class SafetensorsFile implements AutoCloseable {
    private record Entry(String name, Dtype dtype, int[] shape, long begin, long end) {
    }

    private final Path file;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;
    private ByteBuffer chunk;

    private SafetensorsFile(Path file, FileChannel channel, long dataStart, Map<String, Entry> entries,
                            Map<String, String> metadata) {
        this.file = file;
        this.channel = channel;
        this.dataStart = dataStart;
        this.entries = entries;
        this.metadata = metadata;
    }

    static SafetensorsFile open(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        try {
            return parse(file, ch);
        } catch (IOException | RuntimeException | Error e) {
            ch.close();
            throw e;
        }
    }

    private static SafetensorsFile parse(Path file, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size < 8) {
            throw new CheckpointFormatException(file, "the file has " + size
                    + " bytes, fewer than the 8-byte header length a safetensors file starts with;"
                    + " it is truncated or not a safetensors file");
        }
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(file, ch, lenBuf, 0);
        long headerLen = lenBuf.getLong(0);
        // Unsigned: a u64 at or above 2^63 reads as negative and is absurd either way.
        if (headerLen < 0 || headerLen > Safetensors.MAX_HEADER_BYTES) {
            throw new CheckpointFormatException(file, "the header length field says "
                    + Long.toUnsignedString(headerLen) + " bytes, more than the " + Safetensors.MAX_HEADER_BYTES
                    + " a safetensors header may have; the file is corrupt or not a safetensors file");
        }
        if (headerLen > size - 8) {
            throw new CheckpointFormatException(file, "the header length field says " + headerLen
                    + " bytes but only " + (size - 8) + " bytes follow it; the file is truncated or corrupt");
        }
        ByteBuffer headBuf = ByteBuffer.allocate((int) headerLen);
        readFully(file, ch, headBuf, 8);
        byte[] head = headBuf.array();
        if (head.length == 0 || head[0] != '{') {
            throw new CheckpointFormatException(file, "the header does not start with '{'; the file is"
                    + " corrupt or not a safetensors file");
        }
        JsonNode root;
        try {
            root = Safetensors.MAPPER.readTree(head);
        } catch (JacksonException e) {
            throw new CheckpointFormatException(file, "the header is not valid JSON ("
                    + e.getOriginalMessage() + "); the file is corrupt or not a safetensors file", e);
        }
        if (root == null || !root.isObject()) {
            throw new CheckpointFormatException(file, "the header is not a JSON object; the file is corrupt"
                    + " or not a safetensors file");
        }

        long dataLen = size - 8 - headerLen;
        Map<String, String> metadata = Map.of();
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> field : root.properties()) {
            if (field.getKey().equals(Safetensors.METADATA_KEY)) {
                metadata = parseMetadata(file, field.getValue());
            } else {
                Entry e = parseEntry(file, field.getKey(), field.getValue());
                if (e.end > dataLen) {
                    throw new CheckpointFormatException(file, "tensor " + e.name + " occupies bytes ["
                            + e.begin + ", " + e.end + ") of the data but the file holds only " + dataLen
                            + " bytes of data; the file is truncated (an interrupted write or copy?)");
                }
                entries.put(e.name, e);
            }
        }
        checkTiling(file, entries, dataLen);
        return new SafetensorsFile(file, ch, 8 + headerLen, entries, metadata);
    }

    private static Map<String, String> parseMetadata(Path file, JsonNode node) {
        if (!node.isObject()) {
            throw new CheckpointFormatException(file, "__metadata__ in the header is not a JSON object of strings");
        }
        Map<String, String> meta = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> kv : node.properties()) {
            if (!kv.getValue().isTextual()) {
                throw new CheckpointFormatException(file, "__metadata__ entry " + kv.getKey()
                        + " is " + kv.getValue() + ", not a string; the format allows only string values");
            }
            meta.put(kv.getKey(), kv.getValue().textValue());
        }
        return Collections.unmodifiableMap(meta);
    }

    private static Entry parseEntry(Path file, String name, JsonNode node) {
        String where = "tensor " + name;
        if (!node.isObject()) {
            throw new CheckpointFormatException(file, where + " is described by " + node
                    + " instead of an object with dtype, shape and data_offsets; the header is corrupt");
        }
        JsonNode dtypeNode = required(file, where, node, "dtype");
        JsonNode shapeNode = required(file, where, node, "shape");
        JsonNode offsetsNode = required(file, where, node, "data_offsets");

        if (!dtypeNode.isTextual()) {
            throw new CheckpointFormatException(file, where + " has dtype " + dtypeNode + ", not a string");
        }
        Dtype dtype;
        try {
            dtype = Dtype.valueOf(dtypeNode.textValue());
        } catch (IllegalArgumentException e) {
            throw new CheckpointFormatException(file, where + " has dtype " + dtypeNode.textValue()
                    + ", which sffn does not know; sffn reads F32, F16 and BF16 (as float) and I32."
                    + " Convert the file to one of these");
        }

        if (!shapeNode.isArray()) {
            throw new CheckpointFormatException(file, where + " has shape " + shapeNode + ", not an array");
        }
        int[] shape = new int[shapeNode.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.longValue() < 0) {
                throw new CheckpointFormatException(file, where + " has shape " + shapeNode
                        + "; dimensions must be non-negative integers");
            }
            if (d.longValue() > Integer.MAX_VALUE) {
                throw new CheckpointFormatException(file, where + " has shape " + shapeNode
                        + ", a dimension too large for sffn's tensors");
            }
            shape[i] = d.intValue();
            try {
                numel = Math.multiplyExact(numel, shape[i]);
            } catch (ArithmeticException e) {
                throw new CheckpointFormatException(file, where + " has shape " + shapeNode
                        + ", whose element count overflows; the header is corrupt");
            }
        }

        if (!offsetsNode.isArray() || offsetsNode.size() != 2) {
            throw new CheckpointFormatException(file, where + " has data_offsets " + offsetsNode
                    + "; expected [begin, end]");
        }
        long[] off = new long[2];
        for (int i = 0; i < 2; i++) {
            JsonNode o = offsetsNode.get(i);
            if (!o.isIntegralNumber() || !o.canConvertToLong() || o.longValue() < 0) {
                throw new CheckpointFormatException(file, where + " has data_offsets " + offsetsNode
                        + "; offsets must be non-negative integers");
            }
            off[i] = o.longValue();
        }
        if (off[0] > off[1]) {
            throw new CheckpointFormatException(file, where + " has data_offsets " + offsetsNode
                    + ", which end before they begin; the header is corrupt");
        }
        long expectedBytes;
        try {
            expectedBytes = Math.multiplyExact(numel, (long) dtype.bytes);
        } catch (ArithmeticException e) {
            throw new CheckpointFormatException(file, where + " has shape " + shapeNode
                    + ", whose byte size overflows; the header is corrupt");
        }
        if (off[1] - off[0] != expectedBytes) {
            throw new CheckpointFormatException(file, where + " has data_offsets " + offsetsNode + " ("
                    + (off[1] - off[0]) + " bytes) but its shape " + Arrays.toString(shape) + " of " + dtype
                    + " needs " + expectedBytes + " bytes; the header is corrupt");
        }
        return new Entry(name, dtype, shape, off[0], off[1]);
    }

    private static JsonNode required(Path file, String where, JsonNode node, String key) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) {
            throw new CheckpointFormatException(file, where + " has no " + key + "; the header is corrupt");
        }
        return v;
    }

    /** Tensors must cover [0, dataLen) exactly, as the reference implementation requires. */
    private static void checkTiling(Path file, Map<String, Entry> entries, long dataLen) {
        List<Entry> sorted = new ArrayList<>(entries.values());
        sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long covered = 0;
        Entry previous = null;
        for (Entry e : sorted) {
            if (e.begin < covered) {
                throw new CheckpointFormatException(file, "tensor " + e.name + " (data bytes [" + e.begin + ", "
                        + e.end + ")) overlaps tensor " + previous.name + " (bytes [" + previous.begin + ", "
                        + previous.end + ")); the header is corrupt");
            }
            if (e.begin > covered) {
                throw new CheckpointFormatException(file, "data bytes [" + covered + ", " + e.begin
                        + ") belong to no tensor (a hole before tensor " + e.name + "); the header is corrupt");
            }
            covered = e.end;
            previous = e;
        }
        if (covered != dataLen) {
            throw new CheckpointFormatException(file, "the file has " + (dataLen - covered)
                    + " bytes after the end of the last tensor's data; the header is corrupt"
                    + " or the file was not written as safetensors");
        }
    }

    /** The file, as the caller named it. */
    public Path file() {
        return file;
    }

    /** Tensor names in header order (for files sffn wrote: the order they were written in). */
    public List<String> names() {
        return List.copyOf(entries.keySet());
    }

    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    public int[] shape(String name) {
        return entry(name).shape.clone();
    }

    public Dtype dtype(String name) {
        return entry(name).dtype;
    }

    /** The header's {@code __metadata__}, empty if it has none. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * Reads tensor {@code name} into {@code dest}, whose shape must equal the file's exactly;
     * F16 and BF16 widen to float exactly.
     */
    public void readInto(String name, Tensor dest) throws IOException {
        Entry e = entry(name);
        checkShape(e, dest.shape());
        checkReadsAsFloat(name);
        read(e, dest.data);
    }

    /** Reads tensor {@code name} into a new tensor of the file's shape. */
    public Tensor read(String name) throws IOException {
        Entry e = entry(name);
        checkReadsAsFloat(name);
        Tensor t = new Tensor(name, e.shape);
        read(e, t.data);
        return t;
    }

    /** Reads I32 tensor {@code name} into {@code dest}, whose shape must equal the file's exactly. */
    public void readInto(String name, IntTensor dest) throws IOException {
        Entry e = entry(name);
        checkShape(e, dest.shape());
        checkInt(e);
        read(e, dest.data);
    }

    /** Reads I32 tensor {@code name} into a new int tensor of the file's shape. */
    public IntTensor readInts(String name) throws IOException {
        Entry e = entry(name);
        checkInt(e);
        IntTensor t = new IntTensor(name, e.shape);
        read(e, t.data);
        return t;
    }

    /** Reads BF16 tensor {@code name}, as its bit patterns, into {@code dest} of the file's exact shape. */
    public void readInto(String name, ShortTensor dest) throws IOException {
        Entry e = entry(name);
        checkShape(e, dest.shape());
        checkDtype(e, Dtype.BF16);
        read(e, dest.data);
    }

    /** Reads I8 tensor {@code name} into {@code dest} of the file's exact shape. */
    public void readInto(String name, ByteTensor dest) throws IOException {
        Entry e = entry(name);
        checkShape(e, dest.shape());
        checkDtype(e, Dtype.I8);
        read(e, dest.data);
    }

    private void checkDtype(Entry e, Dtype want) {
        if (e.dtype != want) {
            throw new CheckpointFormatException(file, "tensor " + e.name + " has dtype " + e.dtype + " but is read as " + want);
        }
    }

    void checkReadsAsFloat(String name) {
        Entry e = entry(name);
        if (!e.dtype.readsAsFloat()) {
            throw new CheckpointFormatException(file, "tensor " + name + " has dtype " + e.dtype
                    + ", which sffn cannot read as float; it reads F32, F16 and BF16. Convert the file");
        }
    }

    private void checkInt(Entry e) {
        if (e.dtype != Dtype.I32) {
            throw new CheckpointFormatException(file, "tensor " + e.name + " has dtype " + e.dtype
                    + " but is read as int, which needs I32");
        }
    }

    private void checkShape(Entry e, int[] expected) {
        if (!Arrays.equals(e.shape, expected)) {
            throw new CheckpointFormatException(file, "tensor " + e.name + " has shape " + Arrays.toString(e.shape)
                    + " in the file but the model expects " + Arrays.toString(expected)
                    + "; was the checkpoint written with another config?");
        }
    }

    private Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new CheckpointFormatException(file, "holds no tensor " + name + " (it holds "
                    + entries.size() + ": " + Safetensors.list(names()) + ")");
        }
        return e;
    }

    /**
     * Streams the entry's bytes through the chunk buffer into {@code dest}: a float[] (F32, F16 or
     * BF16 widened), an int[] (I32), or, stored as they are, a short[] (BF16 bits) or a byte[] (I8).
     */
    private void read(Entry e, Object dest) throws IOException {
        if (chunk == null) {
            chunk = ByteBuffer.allocateDirect(Safetensors.IO_CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        }
        long pos = dataStart + e.begin;
        long remaining = e.end - e.begin;
        int out = 0;
        while (remaining > 0) {
            int bytes = (int) Math.min(chunk.capacity(), remaining);
            chunk.clear().limit(bytes);
            readFully(file, channel, chunk, pos, e.name);
            chunk.flip();
            int n = bytes / e.dtype.bytes;
            switch (dest) {
                case short[] shorts -> chunk.asShortBuffer().get(shorts, out, n);
                case byte[] raw -> chunk.get(raw, out, n);
                case int[] ints -> chunk.asIntBuffer().get(ints, out, n);
                case float[] floats -> {
                    switch (e.dtype) {
                        case F32 -> chunk.asFloatBuffer().get(floats, out, n);
                        case F16 -> {
                            for (int i = 0; i < n; i++) {
                                floats[out + i] = Float.float16ToFloat(chunk.getShort(2 * i));
                            }
                        }
                        // bfloat16 is the upper half of a float32.
                        case BF16 -> {
                            for (int i = 0; i < n; i++) {
                                floats[out + i] = Float.intBitsToFloat((chunk.getShort(2 * i) & 0xffff) << 16);
                            }
                        }
                        default -> throw new IllegalStateException("dtype " + e.dtype + " passed the read checks");
                    }
                }
                default -> throw new IllegalArgumentException("cannot read into " + dest.getClass().getSimpleName());
            }
            out += n;
            pos += bytes;
            remaining -= bytes;
        }
    }

    private static void readFully(Path file, FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        readFully(file, ch, buf, pos, null);
    }

    private static void readFully(Path file, FileChannel ch, ByteBuffer buf, long pos, String tensor)
            throws IOException {
        long at = pos;
        while (buf.hasRemaining()) {
            int r = ch.read(buf, at);
            if (r < 0) {
                throw new CheckpointFormatException(file, "the file ended at byte " + at
                        + (tensor == null ? "" : " while reading tensor " + tensor)
                        + "; it was truncated, possibly while open");
            }
            at += r;
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
