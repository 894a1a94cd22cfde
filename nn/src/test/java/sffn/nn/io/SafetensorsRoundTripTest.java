package sffn.nn.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sffn.kernels.IntTensor;
import sffn.kernels.Tensor;
import sffn.nn.io.Safetensors.Dtype;

class SafetensorsRoundTripTest {
    @TempDir
    Path dir;

    private static final int[] SPECIAL_BITS = {
        0x00000000, 0x80000000,             // +0, -0
        0x00000001, 0x807fffff, 0x00400000, // subnormals
        0x7f800000, 0xff800000,             // +-Inf
        0x7fc00000, 0x7fc12345, 0xffc00001, // quiet NaNs with payloads
        0x7f800001, 0x7fa00000,             // signalling NaNs
        0x7f7fffff, 0x00800000, 0x3f800000, // max, min normal, 1
    };

    /** Random bit patterns (so every class of float, NaN payloads included) then the special ones. */
    private static Tensor randomBits(String name, long seed, int... shape) {
        Tensor t = new Tensor(name, shape);
        SplittableRandom rng = new SplittableRandom(seed);
        for (int i = 0; i < t.size(); i++) {
            t.data[i] = Float.intBitsToFloat(i < SPECIAL_BITS.length ? SPECIAL_BITS[i] : rng.nextInt());
        }
        return t;
    }

    private static void assertBitsEqual(Tensor expected, Tensor actual) {
        assertArrayEquals(expected.shape(), actual.shape(), expected.name);
        for (int i = 0; i < expected.size(); i++) {
            int e = Float.floatToRawIntBits(expected.data[i]);
            int a = Float.floatToRawIntBits(actual.data[i]);
            if (e != a) {
                throw new AssertionError(expected.name + "[" + i + "]: wrote 0x" + Integer.toHexString(e)
                        + ", read 0x" + Integer.toHexString(a));
            }
        }
    }

    @Test
    void awkwardShapesRoundTripBitExact() throws IOException {
        List<Tensor> tensors = List.of(
                randomBits("layers.0.mlp.fc1.lr1", 1, 3, 5, 7),
                randomBits("empty", 2, 0),
                randomBits("one", 3, 1),
                randomBits("scalar", 4),
                randomBits("zero.inside", 5, 2, 0, 3),
                randomBits("specials", 6, SPECIAL_BITS.length),
                randomBits("odd", 7, 17, 1));
        Path file = dir.resolve("model.safetensors");
        Safetensors.write(file, tensors, Map.of());

        try (SafetensorsFile f = Safetensors.open(file)) {
            assertEquals(tensors.stream().map(t -> t.name).toList(), f.names(), "header keeps the order given");
            assertEquals(Map.of(), f.metadata());
            for (Tensor t : tensors) {
                assertEquals(Dtype.F32, f.dtype(t.name));
                assertArrayEquals(t.shape(), f.shape(t.name));
                assertBitsEqual(t, f.read(t.name));
                Tensor into = new Tensor(t.name, t.shape());
                into.fill(Float.NaN);
                f.readInto(t.name, into);
                assertBitsEqual(t, into);
            }
        }
    }

    @Test
    void loadIntoFillsEveryTensorOfTheModel() throws IOException {
        List<Tensor> written = List.of(randomBits("wte.weight", 11, 19, 6), randomBits("ln_f.bias", 12, 6));
        Path file = dir.resolve("model.safetensors");
        Safetensors.write(file, written, Map.of());
        // The model lists its tensors in another order than the file: names decide, not positions.
        List<Tensor> model = List.of(new Tensor("ln_f.bias", 6), new Tensor("wte.weight", 19, 6));
        model.forEach(t -> t.fill(Float.NaN));
        Safetensors.loadInto(file, model);
        assertBitsEqual(written.get(1), model.get(0));
        assertBitsEqual(written.get(0), model.get(1));
    }

    @Test
    void metadataRoundTrips() throws IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "sffn");
        meta.put("config", "{\"hidden\": 768, \"quote\": \"\\\"\"}");
        meta.put("empty", "");
        meta.put("unicode ключ", "värde ✓ 𝛼");
        Path file = dir.resolve("m.safetensors");
        Safetensors.write(file, List.of(randomBits("x", 1, 3)), meta);
        try (SafetensorsFile f = Safetensors.open(file)) {
            assertEquals(meta, f.metadata());
            assertEquals(List.copyOf(meta.keySet()), List.copyOf(f.metadata().keySet()));
            assertEquals(List.of("x"), f.names());
        }
    }

    @Test
    void intTensorsRoundTripAfterTheFloats() throws IOException {
        IntTensor ids = new IntTensor("rng.state", 2, 3);
        int[] values = {0, -1, Integer.MIN_VALUE, Integer.MAX_VALUE, 0x01020304, 42};
        System.arraycopy(values, 0, ids.data, 0, values.length);
        Path file = dir.resolve("s.safetensors");
        Safetensors.write(file, List.of(randomBits("f", 1, 4)), List.of(ids, new IntTensor("none", 0)), Map.of());
        try (SafetensorsFile f = Safetensors.open(file)) {
            assertEquals(List.of("f", "rng.state", "none"), f.names());
            assertEquals(Dtype.I32, f.dtype("rng.state"));
            assertArrayEquals(values, f.readInts("rng.state").data);
            IntTensor into = new IntTensor("rng.state", 2, 3);
            f.readInto("rng.state", into);
            assertArrayEquals(values, into.data);
            assertEquals(0, f.readInts("none").size());
        }
    }

    /** The writer's bytes, checked against the specification independently of our reader. */
    @Test
    void writerOutputFollowsTheSpecByteForByte() throws IOException {
        Tensor x = new Tensor("x", 2);
        x.data[0] = 1.0f;
        x.data[1] = -2.0f;
        Path file = dir.resolve("w.safetensors");
        Safetensors.write(file, List.of(x), Map.of("k", "v"));

        String json = "{\"__metadata__\":{\"k\":\"v\"},\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        int padded = (json.length() + 7) / 8 * 8;
        ByteBuffer expected = ByteBuffer.allocate(8 + padded + 8).order(ByteOrder.LITTLE_ENDIAN);
        expected.putLong(padded).put(json.getBytes(StandardCharsets.UTF_8));
        while (expected.position() < 8 + padded) expected.put((byte) ' ');
        expected.put(new byte[] {0, 0, (byte) 0x80, 0x3f, 0, 0, 0, (byte) 0xc0}); // 1.0f, -2.0f little-endian
        assertArrayEquals(expected.array(), Files.readAllBytes(file));
    }

    @Test
    void rewritingAFileReplacesItsWholeContent() throws IOException {
        Path file = dir.resolve("r.safetensors");
        Safetensors.write(file, List.of(randomBits("big", 1, 1000)), Map.of());
        Tensor small = randomBits("small", 2, 3);
        Safetensors.write(file, List.of(small), Map.of());
        try (SafetensorsFile f = Safetensors.open(file)) {
            assertEquals(List.of("small"), f.names());
            assertBitsEqual(small, f.read("small"));
        }
    }

    @Test
    void writeRefusesDuplicateAndReservedNames() {
        Path file = dir.resolve("bad.safetensors");
        IllegalArgumentException dup = assertThrows(IllegalArgumentException.class,
                () -> Safetensors.write(file, List.of(new Tensor("a", 1), new Tensor("a", 2)), Map.of()));
        assertTrue(dup.getMessage().contains("a is null or used twice"), dup.getMessage());
        IllegalArgumentException reserved = assertThrows(IllegalArgumentException.class,
                () -> Safetensors.write(file, List.of(new Tensor("__metadata__", 1)), Map.of()));
        assertTrue(reserved.getMessage().contains("reserved"), reserved.getMessage());
    }

    /** Several tensors spanning many I/O chunks, with boundaries that are not chunk-aligned. */
    @Test
    void largeTensorsStreamThroughChunks() throws IOException {
        Tensor head = randomBits("head", 1, 5);
        Tensor big = new Tensor("big", 4001, 5000); // 20,005,000 floats, about 80 MB
        for (int i = 0; i < big.size(); i++) {
            big.data[i] = i * 0.5f - 1e6f;
        }
        Tensor tail = randomBits("tail", 2, 3, 3);
        List<Tensor> tensors = new ArrayList<>(List.of(head, big, tail));
        Path file = dir.resolve("large.safetensors");
        Safetensors.write(file, tensors, Map.of());
        assertEquals(8 + 4L * (5 + big.size() + 9), Files.size(file) - headerBytes(file));

        List<Tensor> model = List.of(new Tensor("head", 5), new Tensor("big", 4001, 5000), new Tensor("tail", 3, 3));
        model.forEach(t -> t.fill(Float.NaN));
        Safetensors.loadInto(file, model);
        assertBitsEqual(head, model.get(0));
        assertArrayEquals(big.data, model.get(1).data);
        assertBitsEqual(tail, model.get(2));
    }

    private static long headerBytes(Path file) throws IOException {
        try (var ch = java.nio.channels.FileChannel.open(file)) {
            ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(b, 0);
            return b.getLong(0);
        }
    }
}
