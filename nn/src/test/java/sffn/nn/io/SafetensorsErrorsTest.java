package sffn.nn.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static sffn.nn.io.SafetensorsSpecConformanceTest.file;
import static sffn.nn.io.SafetensorsSpecConformanceTest.padded;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;
import sffn.kernels.IntTensor;
import sffn.kernels.Tensor;

/** Every way a file can be wrong, each with a message that names the file and the tensor. */
class SafetensorsErrorsTest {
    @TempDir
    Path dir;

    private Path write(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    /** A file with the given header and that many zero bytes of data. */
    private Path withHeader(String header, int dataBytes) throws IOException {
        return write("bad.safetensors", file(padded(header), new int[dataBytes]));
    }

    private static String entry(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape
                + ",\"data_offsets\":[" + begin + "," + end + "]}";
    }

    private static CheckpointFormatException assertFormatError(Path file, Executable action, String... fragments) {
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, action);
        String msg = e.getMessage();
        assertTrue(msg.startsWith(file.toString() + ": "), "message should start with the file: " + msg);
        assertEquals(file, e.file());
        for (String f : fragments) {
            assertTrue(msg.contains(f), "message should contain '" + f + "': " + msg);
        }
        return e;
    }

    private static Executable opening(Path file) {
        return () -> Safetensors.open(file).close();
    }

    // ---- the header length field

    @Test
    void fileShorterThanTheLengthField() throws IOException {
        Path p = write("short.safetensors", new byte[] {1, 2, 3});
        assertFormatError(p, opening(p), "3 bytes", "truncated");
    }

    @Test
    void headerLengthBeyondTheFile() throws IOException {
        byte[] bytes = file(padded("{}"));
        bytes[0] = (byte) 200;
        Path p = write("cut.safetensors", bytes);
        assertFormatError(p, opening(p), "header length field says 200 bytes but only 8 bytes follow", "truncated");
    }

    @Test
    void absurdHeaderLength() throws IOException {
        for (long n : new long[] {200_000_000L, -1L}) {
            byte[] bytes = file(padded("{}"));
            ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(0, n);
            Path p = write("huge.safetensors", bytes);
            assertFormatError(p, opening(p), Long.toUnsignedString(n), "more than the 100000000");
        }
    }

    // ---- the JSON

    @Test
    void headerThatIsNotJson() throws IOException {
        Path p = withHeader("{\"a\": {\"dtype\": ", 0);
        assertFormatError(p, opening(p), "not valid JSON");
    }

    @Test
    void headerThatIsNotAnObject() throws IOException {
        Path p = withHeader("[1, 2]", 0);
        assertFormatError(p, opening(p), "does not start with '{'");
    }

    @Test
    void headerWithTrailingGarbage() throws IOException {
        Path p = withHeader("{} {}", 0);
        assertFormatError(p, opening(p), "not valid JSON");
    }

    @Test
    void duplicateTensorNames() throws IOException {
        Path p = withHeader("{" + entry("w", "F32", "[1]", 0, 4) + "," + entry("w", "F32", "[1]", 4, 8) + "}", 8);
        assertFormatError(p, opening(p), "not valid JSON", "Duplicate field 'w'");
    }

    @Test
    void entryThatIsNotAnObject() throws IOException {
        Path p = withHeader("{\"w\": [1, 2]}", 0);
        assertFormatError(p, opening(p), "tensor w is described by [1,2]");
    }

    @Test
    void entryMissingAField() throws IOException {
        String[] headers = {
            "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}",
            "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}",
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}",
        };
        String[] fields = {"dtype", "shape", "data_offsets"};
        for (int i = 0; i < headers.length; i++) {
            Path p = withHeader(headers[i], 4);
            assertFormatError(p, opening(p), "tensor w has no " + fields[i]);
        }
    }

    @Test
    void malformedShapes() throws IOException {
        for (String shape : new String[] {"[2,-1]", "[1.5]", "[\"2\"]", "2", "[3000000000]", "[65536,65536,65536,65536,65536]"}) {
            Path p = withHeader("{" + entry("layers.0.ln1.weight", "F32", shape, 0, 4) + "}", 4);
            assertFormatError(p, opening(p), "tensor layers.0.ln1.weight has shape");
        }
    }

    @Test
    void malformedOffsets() throws IOException {
        for (String offsets : new String[] {"[0]", "[0,4,8]", "[-4,0]", "[0,4.0]", "{}"}) {
            Path p = withHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":" + offsets + "}}", 4);
            assertFormatError(p, opening(p), "tensor w has data_offsets");
        }
    }

    @Test
    void offsetsThatEndBeforeTheyBegin() throws IOException {
        Path p = withHeader("{" + entry("w", "F32", "[0]", 8, 4) + "}", 8);
        assertFormatError(p, opening(p), "tensor w has data_offsets [8,4]", "end before they begin");
    }

    @Test
    void offsetsThatDisagreeWithTheShape() throws IOException {
        Path p = withHeader("{" + entry("w", "F32", "[2,3]", 0, 20) + "}", 20);
        assertFormatError(p, opening(p), "tensor w has data_offsets [0,20] (20 bytes)", "[2, 3] of F32 needs 24 bytes");
    }

    @Test
    void unknownDtype() throws IOException {
        Path p = withHeader("{" + entry("w", "Q4_K", "[2]", 0, 1) + "}", 1);
        assertFormatError(p, opening(p), "tensor w has dtype Q4_K, which sffn does not know");
    }

    @Test
    void knownButUnsupportedDtypeOpensButDoesNotRead() throws IOException {
        Path p = withHeader("{" + entry("w", "F64", "[2]", 0, 16) + "}", 16);
        try (SafetensorsFile f = Safetensors.open(p)) {
            assertEquals(Safetensors.Dtype.F64, f.dtype("w"));
            assertFormatError(p, () -> f.read("w"), "tensor w has dtype F64, which sffn cannot read as float");
            assertFormatError(p, () -> f.readInto("w", new Tensor("w", 2)), "tensor w has dtype F64");
            assertFormatError(p, () -> f.readInts("w"), "tensor w has dtype F64 but is read as int");
        }
        Tensor w = new Tensor("w", 2);
        assertFormatError(p, () -> Safetensors.loadInto(p, List.of(w)), "tensor w has dtype F64");
    }

    @Test
    void readingAcrossIntAndFloat() throws IOException {
        Path p = dir.resolve("mixed.safetensors");
        Safetensors.write(p, List.of(new Tensor("f", 2)), List.of(new IntTensor("i", 2)), Map.of());
        try (SafetensorsFile f = Safetensors.open(p)) {
            assertFormatError(p, () -> f.read("i"), "tensor i has dtype I32, which sffn cannot read as float");
            assertFormatError(p, () -> f.readInto("f", new IntTensor("f", 2)), "tensor f has dtype F32 but is read as int");
        }
    }

    @Test
    void metadataThatIsNotStrings() throws IOException {
        Path p = withHeader("{\"__metadata__\":{\"step\":100}}", 0);
        assertFormatError(p, opening(p), "__metadata__ entry step is 100, not a string");
        Path q = withHeader("{\"__metadata__\":[\"a\"]}", 0);
        assertFormatError(q, opening(q), "__metadata__ in the header is not a JSON object");
    }

    // ---- the data region

    @Test
    void truncatedData() throws IOException {
        Path p = withHeader("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("wte.weight", "F32", "[100]", 8, 408) + "}", 100);
        assertFormatError(p, opening(p), "tensor wte.weight occupies bytes [8, 408)", "only 100 bytes of data", "truncated");
    }

    @Test
    void dataTruncatedAfterOpening() throws IOException {
        Path p = dir.resolve("shrinking.safetensors");
        Safetensors.write(p, List.of(new Tensor("a", 4), new Tensor("b", 1000)), Map.of());
        try (SafetensorsFile f = Safetensors.open(p)) {
            try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
                ch.truncate(Files.size(p) - 8);
            }
            assertFormatError(p, () -> f.read("b"), "while reading tensor b", "truncated");
        }
    }

    @Test
    void overlappingTensors() throws IOException {
        Path p = withHeader("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}", 12);
        assertFormatError(p, opening(p), "tensor b (data bytes [4, 12)) overlaps tensor a (bytes [0, 8))");
    }

    @Test
    void holeBetweenTensors() throws IOException {
        Path p = withHeader("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 12, 20) + "}", 20);
        assertFormatError(p, opening(p), "data bytes [8, 12) belong to no tensor", "before tensor b");
    }

    @Test
    void bytesAfterTheLastTensor() throws IOException {
        Path p = withHeader("{" + entry("a", "F32", "[2]", 0, 8) + "}", 12);
        assertFormatError(p, opening(p), "4 bytes after the end of the last tensor's data");
    }

    // ---- the file against the model

    private Path model(Tensor... tensors) throws IOException {
        Path p = dir.resolve("model.safetensors");
        Safetensors.write(p, List.of(tensors), Map.of());
        return p;
    }

    @Test
    void shapeMismatchSaysWhatTheFileHasAndTheModelExpects() throws IOException {
        Path p = model(new Tensor("wte.weight", 10, 32), new Tensor("layers.3.mlp.fc1.lr1", 64, 256));
        Tensor lr1 = new Tensor("layers.3.mlp.fc1.lr1", 32, 256);
        Tensor wte = new Tensor("wte.weight", 10, 32);
        wte.fill(7f);
        assertFormatError(p, () -> Safetensors.loadInto(p, List.of(wte, lr1)));
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class,
                () -> Safetensors.loadInto(p, List.of(wte, lr1)));
        assertEquals(p + ": tensor layers.3.mlp.fc1.lr1 has shape [64, 256] in the file but the model expects"
                + " [32, 256]; was the checkpoint written with another config?", e.getMessage());
        assertEquals(7f, wte.data[0], "nothing is loaded when a check fails");

        try (SafetensorsFile f = Safetensors.open(p)) {
            assertFormatError(p, () -> f.readInto("layers.3.mlp.fc1.lr1", lr1),
                    "tensor layers.3.mlp.fc1.lr1 has shape [64, 256] in the file but the model expects [32, 256]");
        }
    }

    @Test
    void severalShapeMismatchesAreCounted() throws IOException {
        Path p = model(new Tensor("a", 2), new Tensor("b", 3), new Tensor("c", 4));
        assertFormatError(p, () -> Safetensors.loadInto(p, List.of(new Tensor("a", 1), new Tensor("b", 3), new Tensor("c", 1))),
                "tensor a has shape [2] in the file but the model expects [1]", "(1 more differ: c)");
    }

    @Test
    void missingTensorsAreListed() throws IOException {
        Path p = model(new Tensor("wte.weight", 4, 2));
        assertFormatError(p, () -> Safetensors.loadInto(p, List.of(new Tensor("wte.weight", 4, 2),
                        new Tensor("layers.0.mlp.fc1.lr1", 2, 2), new Tensor("layers.0.mlp.fc1.lr2", 2, 2))),
                "2 tensors the model expects are missing from the file: layers.0.mlp.fc1.lr1, layers.0.mlp.fc1.lr2",
                "another config");
    }

    @Test
    void extraTensorsAreListed() throws IOException {
        Path p = model(new Tensor("wte.weight", 4, 2), new Tensor("lm_head.weight", 4, 2));
        assertFormatError(p, () -> Safetensors.loadInto(p, List.of(new Tensor("wte.weight", 4, 2))),
                "the file holds 1 tensor the model does not have: lm_head.weight", "another config");
    }

    @Test
    void missingAndExtraTogether() throws IOException {
        Path p = model(new Tensor("layers.1.mlp.fc1.weight", 2, 2));
        assertFormatError(p, () -> Safetensors.loadInto(p, List.of(new Tensor("layers.1.mlp.fc1.lr1", 2, 2))),
                "1 tensor the model expects is missing from the file: layers.1.mlp.fc1.lr1",
                "the file holds 1 tensor the model does not have: layers.1.mlp.fc1.weight");
    }

    @Test
    void longListsAreCut() throws IOException {
        Path p = model();
        List<Tensor> many = new java.util.ArrayList<>();
        for (int i = 0; i < 25; i++) many.add(new Tensor("t" + i, 1));
        assertFormatError(p, () -> Safetensors.loadInto(p, many), "25 tensors", "t19, ... (5 more)");
    }

    @Test
    void unknownTensorName() throws IOException {
        Path p = model(new Tensor("a", 1));
        try (SafetensorsFile f = Safetensors.open(p)) {
            assertFormatError(p, () -> f.shape("b"), "holds no tensor b (it holds 1: a)");
        }
    }

    @Test
    void modelListingATensorTwiceIsAProgrammingError() throws IOException {
        Path p = model(new Tensor("a", 1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Safetensors.loadInto(p, List.of(new Tensor("a", 1), new Tensor("a", 1))));
        assertTrue(e.getMessage().contains("tensor a twice"), e.getMessage());
    }
}
