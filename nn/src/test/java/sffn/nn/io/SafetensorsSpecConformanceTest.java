package sffn.nn.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sffn.kernels.Tensor;
import sffn.nn.io.Safetensors.Dtype;

/**
 * Files built byte by byte from the specification, so the reader is checked against the format
 * and not against our own writer.
 */
class SafetensorsSpecConformanceTest {
    @TempDir
    Path dir;

    /** u64 little-endian header length, the header, then the data. */
    static byte[] file(String header, int... data) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        long n = h.length;
        for (int i = 0; i < 8; i++) out.write((int) (n >>> (8 * i)));
        out.write(h, 0, h.length);
        for (int b : data) out.write(b);
        return out.toByteArray();
    }

    static String padded(String header) {
        StringBuilder s = new StringBuilder(header);
        while (s.length() % 8 != 0) s.append(' ');
        return s.toString();
    }

    private static void assertFloatBits(float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(actual[i]),
                    "element " + i + ": expected " + expected[i] + ", read " + actual[i]);
        }
    }

    @Test
    void readsHalfBfloatFloatAndIntTensorsWithPaddedHeader() throws IOException {
        // Data order (z, h, b, s, i) differs from header order on purpose.
        String header = padded("{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"h\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
                + "\"b\":{\"shape\":[4],\"dtype\":\"BF16\",\"data_offsets\":[12,20]},"
                + "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[20,24]},"
                + "\"i\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[24,32]},"
                + "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}");
        byte[] bytes = file(header,
                // F16: 1.0, -2.0, 65504 (max), 2^-24 (smallest subnormal), -Inf, -0.0
                0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00, 0x00, 0xfc, 0x00, 0x80,
                // BF16: 1.0, -5.0, 3.140625, 2^-133 (a float subnormal)
                0x80, 0x3f, 0xa0, 0xc0, 0x49, 0x40, 0x01, 0x00,
                // F32 scalar: 0x40490fdb = (float) pi
                0xdb, 0x0f, 0x49, 0x40,
                // I32: -1, 0x01020304
                0xff, 0xff, 0xff, 0xff, 0x04, 0x03, 0x02, 0x01);
        Path path = dir.resolve("hand.safetensors");
        Files.write(path, bytes);
        assertEquals(0, (bytes.length - 8 - 32) % 8, "the test's header is padded to 8 bytes");

        try (SafetensorsFile f = Safetensors.open(path)) {
            assertEquals(List.of("h", "b", "s", "i", "z"), f.names());
            assertEquals(Map.of("format", "pt"), f.metadata());
            assertEquals(Dtype.F16, f.dtype("h"));
            assertEquals(Dtype.BF16, f.dtype("b"));
            assertArrayEquals(new int[] {2, 3}, f.shape("h"));
            assertArrayEquals(new int[] {}, f.shape("s"));

            Tensor h = f.read("h");
            assertArrayEquals(new int[] {2, 3}, h.shape());
            assertFloatBits(new float[] {1f, -2f, 65504f, 0x1p-24f, Float.NEGATIVE_INFINITY, -0f}, h.data);
            assertFloatBits(new float[] {1f, -5f, 3.140625f, 0x1p-133f}, f.read("b").data);
            assertFloatBits(new float[] {(float) Math.PI}, f.read("s").data);
            assertArrayEquals(new int[] {-1, 0x01020304}, f.readInts("i").data);
            assertEquals(0, f.read("z").size());

            Tensor into = new Tensor("b", 4);
            into.fill(Float.NaN);
            f.readInto("b", into);
            assertFloatBits(new float[] {1f, -5f, 3.140625f, 0x1p-133f}, into.data);
        }
    }

    @Test
    void readsHalfNanAndUnpaddedHeader() throws IOException {
        // The padding is optional: this header's length is not a multiple of 8.
        String header = "{\"n\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}";
        assertEquals(true, header.length() % 8 != 0);
        Path path = dir.resolve("unpadded.safetensors");
        Files.write(path, file(header, 0x00, 0x7e, 0x00, 0x7c)); // NaN, +Inf
        try (SafetensorsFile f = Safetensors.open(path)) {
            float[] v = f.read("n").data;
            assertEquals(true, Float.isNaN(v[0]));
            assertEquals(Float.POSITIVE_INFINITY, v[1]);
        }
    }

    @Test
    void readsAFileWithOnlyMetadataOrNothing() throws IOException {
        Path empty = dir.resolve("empty.safetensors");
        Files.write(empty, file(padded("{}")));
        try (SafetensorsFile f = Safetensors.open(empty)) {
            assertEquals(List.of(), f.names());
            assertEquals(Map.of(), f.metadata());
        }
        Path meta = dir.resolve("meta.safetensors");
        Files.write(meta, file("{\"__metadata__\":{}}"));
        try (SafetensorsFile f = Safetensors.open(meta)) {
            assertEquals(List.of(), f.names());
        }
    }
}
