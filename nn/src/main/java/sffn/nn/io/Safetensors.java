package sffn.nn.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import sffn.kernels.ByteTensor;
import sffn.kernels.Int8Groups;
import sffn.kernels.IntTensor;
import sffn.kernels.ShortTensor;
import sffn.kernels.Tensor;

/**
 * Reads and writes the safetensors format (github.com/huggingface/safetensors), the layout of
 * sffn checkpoints and of most published weights:
 * <pre>
 *   u64 little-endian N | N bytes of UTF-8 JSON header | data
 *   header: {"__metadata__": {str: str}?, name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
 * </pre>
 * Offsets are bytes relative to the start of the data; tensors are row-major and little-endian,
 * and together cover the data exactly (no holes, no overlaps). The writer pads the header with
 * spaces so the data starts on an 8-byte boundary and lays tensors out in the order given.
 *
 * <p>Format problems raise {@link CheckpointFormatException}; failures to reach the file raise
 * {@link IOException}. Neither writing nor reading holds more than one chunk of
 * {@link #IO_CHUNK_BYTES} besides the tensors themselves, so multi-GB files stream.
 */
public final class Safetensors {
    /** Largest header accepted on read; the limit of the reference implementation. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;
    /** Size of the buffer that data moves through on write and read. */
    static final int IO_CHUNK_BYTES = 4 << 20;
    static final String METADATA_KEY = "__metadata__";

    /** Mappers shared across calls; Jackson's mappers are thread-safe once configured. */
    static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /**
     * The element types of the safetensors specification with their sizes. sffn reads
     * {@code F32}, {@code F16} and {@code BF16} into float tensors (the half types widen exactly)
     * and {@code I32} into int tensors; the others are recognised, so a file holding them still
     * opens and validates, but reading such a tensor fails.
     */
    public enum Dtype {
        BOOL(1), U8(1), I8(1), F8_E5M2(1), F8_E4M3(1), I16(2), U16(2), F16(2), BF16(2),
        I32(4), U32(4), F32(4), F64(8), I64(8), U64(8);

        /** Bytes per element. */
        public final int bytes;

        Dtype(int bytes) {
            this.bytes = bytes;
        }

        /** Whether {@link SafetensorsFile#readInto(String, Tensor)} accepts this type. */
        public boolean readsAsFloat() {
            return this == F32 || this == F16 || this == BF16;
        }
    }

    private Safetensors() {
    }

    /** Writes float tensors in the given order, as F32; see {@link #write(Path, List, List, Map)}. */
    public static void write(Path file, List<Tensor> tensors, Map<String, String> metadata) throws IOException {
        write(file, tensors, List.of(), metadata);
    }

    /**
     * Writes {@code floats} as F32 then {@code ints} as I32, each in the order given, with
     * {@code metadata} (may be empty) as the header's {@code __metadata__}. The file is created or
     * truncated in place and not fsynced: for a crash-safe checkpoint write it inside
     * {@link AtomicDirectory#write}, which syncs every file before publishing the directory.
     *
     * @throws IllegalArgumentException if two tensors share a name or a name is {@code __metadata__}
     */
    public static void write(Path file, List<Tensor> floats, List<IntTensor> ints, Map<String, String> metadata)
            throws IOException {
        List<Object> all = new ArrayList<>(floats);
        all.addAll(ints);
        writeTensors(file, all, metadata);
    }

    /**
     * Writes tensors in the order given, each in its own type: {@link Tensor} as F32,
     * {@link IntTensor} as I32, {@link ShortTensor} (bfloat16 bit patterns) as BF16,
     * {@link ByteTensor} as I8; otherwise as {@link #write(Path, List, List, Map)}.
     */
    public static void writeTensors(Path file, List<?> tensors, Map<String, String> metadata) throws IOException {
        ObjectNode header = MAPPER.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = header.putObject(METADATA_KEY);
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                if (e.getKey() == null || e.getValue() == null) {
                    throw new IllegalArgumentException("metadata for " + file + " has a null key or value: " + metadata);
                }
                meta.put(e.getKey(), e.getValue());
            }
        }
        Set<String> names = new HashSet<>();
        long offset = 0;
        for (Object o : tensors) {
            offset = switch (o) {
                case Tensor t -> describe(header, names, file, t.name, "F32", t.shape(), offset, 4L * t.data.length);
                case IntTensor t -> describe(header, names, file, t.name, "I32", t.shape(), offset, 4L * t.data.length);
                case ShortTensor t -> describe(header, names, file, t.name, "BF16", t.shape(), offset, 2L * t.data.length);
                case ByteTensor t -> describe(header, names, file, t.name, "I8", t.shape(), offset, t.data.length);
                default -> throw new IllegalArgumentException("cannot write " + o + " to " + file + ": not a tensor");
            };
        }
        byte[] json = MAPPER.writeValueAsBytes(header);
        int padded = (json.length + 7) & ~7;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();

        ByteBuffer chunk = ByteBuffer.allocateDirect(IO_CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE,
                StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            writeFully(ch, head);
            for (Object o : tensors) {
                int length = java.lang.reflect.Array.getLength(data(o));
                int width = o instanceof ShortTensor ? 2 : o instanceof ByteTensor ? 1 : 4;
                int perChunk = IO_CHUNK_BYTES / width;
                for (int off = 0; off < length; off += perChunk) {
                    int n = Math.min(perChunk, length - off);
                    chunk.clear();
                    switch (o) {
                        case Tensor t -> chunk.asFloatBuffer().put(t.data, off, n);
                        case IntTensor t -> chunk.asIntBuffer().put(t.data, off, n);
                        case ShortTensor t -> chunk.asShortBuffer().put(t.data, off, n);
                        case ByteTensor t -> chunk.put(t.data, off, n);
                        default -> throw new IllegalStateException();
                    }
                    chunk.position(0).limit(width * n);
                    writeFully(ch, chunk);
                }
            }
        }
    }

    private static Object data(Object tensor) {
        return switch (tensor) {
            case Tensor t -> t.data;
            case IntTensor t -> t.data;
            case ShortTensor t -> t.data;
            case ByteTensor t -> t.data;
            default -> throw new IllegalArgumentException("not a tensor: " + tensor);
        };
    }

    private static long describe(ObjectNode header, Set<String> names, Path file, String name, String dtype,
                                 int[] shape, long offset, long bytes) {
        if (name == null || name.equals(METADATA_KEY) || !names.add(name)) {
            throw new IllegalArgumentException("cannot write " + file + ": tensor name " + name
                    + (name != null && name.equals(METADATA_KEY) ? " is reserved by the format"
                    : " is null or used twice"));
        }
        ObjectNode entry = header.putObject(name);
        entry.put("dtype", dtype);
        ArrayNode dims = entry.putArray("shape");
        for (int d : shape) {
            dims.add(d);
        }
        entry.putArray("data_offsets").add(offset).add(offset + bytes);
        return offset + bytes;
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }

    /**
     * Opens {@code file} and validates its header and layout (see {@link SafetensorsFile}); the
     * data is read only on request. Close the result.
     */
    public static SafetensorsFile open(Path file) throws IOException {
        return SafetensorsFile.open(file);
    }

    /**
     * Loads a checkpoint into a model's tensors: the file must hold exactly the tensors in
     * {@code expected} (by name), each with exactly its shape and a float dtype. Every check runs
     * before any tensor is written, so on a mismatch the tensors are left untouched.
     *
     * @throws CheckpointFormatException naming the file and the tensors at fault
     */
    public static void loadInto(Path file, List<Tensor> expected) throws IOException {
        try (SafetensorsFile f = open(file)) {
            Map<String, Tensor> byName = new HashMap<>();
            for (Tensor t : expected) {
                if (byName.put(t.name, t) != null) {
                    throw new IllegalArgumentException("cannot load " + file + ": the model lists tensor "
                            + t.name + " twice");
                }
            }
            List<String> missing = new ArrayList<>();
            for (Tensor t : expected) {
                if (!f.contains(t.name)) missing.add(t.name);
            }
            List<String> extra = new ArrayList<>();
            for (String name : f.names()) {
                if (!byName.containsKey(name) && !isScaleOfInt8(f, name, byName)) extra.add(name);
            }
            if (!missing.isEmpty() || !extra.isEmpty()) {
                StringBuilder msg = new StringBuilder();
                if (!missing.isEmpty()) {
                    msg.append(missing.size()).append(missing.size() == 1 ? " tensor" : " tensors")
                            .append(" the model expects ").append(missing.size() == 1 ? "is" : "are")
                            .append(" missing from the file: ").append(list(missing));
                }
                if (!extra.isEmpty()) {
                    if (!msg.isEmpty()) msg.append("; and ");
                    msg.append("the file holds ").append(extra.size())
                            .append(extra.size() == 1 ? " tensor" : " tensors")
                            .append(" the model does not have: ").append(list(extra));
                }
                msg.append("; was the checkpoint written with another config?");
                throw new CheckpointFormatException(file, msg.toString());
            }
            List<String> mismatched = new ArrayList<>();
            String first = null;
            for (Tensor t : expected) {
                int[] found = f.shape(t.name);
                if (!Arrays.equals(found, t.shape())) {
                    if (first == null) {
                        first = "tensor " + t.name + " has shape " + Arrays.toString(found)
                                + " in the file but the model expects " + Arrays.toString(t.shape());
                    } else {
                        mismatched.add(t.name);
                    }
                }
            }
            if (first != null) {
                throw new CheckpointFormatException(file, first
                        + (mismatched.isEmpty() ? "" : " (" + mismatched.size() + " more differ: " + list(mismatched) + ")")
                        + "; was the checkpoint written with another config?");
            }
            for (Tensor t : expected) {
                if (f.dtype(t.name) == Dtype.I8) checkInt8(f, t);
                else f.checkReadsAsFloat(t.name);
            }
            for (Tensor t : expected) {
                if (f.dtype(t.name) == Dtype.I8) readInt8(f, t);
                else f.readInto(t.name, t);
            }
        }
    }

    /** Metadata key of files with int8 weights: the weights per scale along the last dimension. */
    public static final String INT8_GROUP_KEY = "int8_group_size";

    /** {@code name} is the {@code .scale} companion of an I8 tensor the model expects. */
    private static boolean isScaleOfInt8(SafetensorsFile f, String name, Map<String, Tensor> expected) {
        if (!name.endsWith(".scale")) return false;
        String base = name.substring(0, name.length() - ".scale".length());
        return expected.containsKey(base) && f.contains(base) && f.dtype(base) == Dtype.I8;
    }

    /**
     * An I8 tensor {@code w} needs {@code w.scale} (F32, w's shape with the last dimension in
     * groups) and the file's group size to be the one sffn's int8 kernels use.
     */
    private static void checkInt8(SafetensorsFile f, Tensor t) {
        Path file = f.file();
        String group = f.metadata().get(INT8_GROUP_KEY);
        if (group == null || !group.equals(Integer.toString(Int8Groups.GROUP))) {
            throw new CheckpointFormatException(file, "tensor " + t.name + " is I8, but the header's __metadata__ "
                    + (group == null ? "has no " + INT8_GROUP_KEY : "says " + INT8_GROUP_KEY + " " + group)
                    + "; sffn reads int8 weights with one scale per " + Int8Groups.GROUP
                    + " along the last dimension (write them with sffn export)");
        }
        String scale = t.name + ".scale";
        if (!f.contains(scale)) {
            throw new CheckpointFormatException(file, "tensor " + t.name + " is I8 but its scales " + scale + " are missing");
        }
        int[] want = t.shape();
        want[want.length - 1] = Int8Groups.groups(want[want.length - 1]);
        if (f.dtype(scale) != Dtype.F32 || !Arrays.equals(f.shape(scale), want)) {
            throw new CheckpointFormatException(file, "tensor " + scale + " is " + f.dtype(scale) + " "
                    + Arrays.toString(f.shape(scale)) + "; the scales of " + t.name + " must be F32 " + Arrays.toString(want));
        }
    }

    /** {@code t = q * scale}, the float32 product the int8 kernels compute with. */
    private static void readInt8(SafetensorsFile f, Tensor t) throws IOException {
        ByteTensor q = new ByteTensor(t.name, t.shape());
        f.readInto(t.name, q);
        Tensor scale = f.read(t.name + ".scale");
        int k = t.dim(t.rank() - 1);
        Int8Groups.dequantise(q.data, scale.data, k == 0 ? 0 : t.size() / k, k, t.data);
    }

    /** A list of names for a message, cut after 20 so a wrong config does not print a page. */
    static String list(List<String> names) {
        int shown = Math.min(names.size(), 20);
        String s = String.join(", ", names.subList(0, shown));
        return names.size() > shown ? s + ", ... (" + (names.size() - shown) + " more)" : s;
    }
}
