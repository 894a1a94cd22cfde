package sffn.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Parses the event file back, record by record, with its own protobuf reader, checking every CRC. */
class TensorBoardWriterTest {

    @Test
    void maskedCrcOfAKnownInput() {
        // CRC-32C("123456789") = 0xE3069283 (the standard check value); masked as TFRecord does
        int crc = 0xE3069283;
        int masked = ((crc >>> 15) | (crc << 17)) + 0xa282ead8;
        assertEquals(masked, TensorBoardWriter.maskedCrc("123456789".getBytes(StandardCharsets.US_ASCII), 0, 9));
    }

    @Test
    void recordsAndEventsParseBack(@TempDir Path dir) throws IOException {
        Path file;
        try (TensorBoardWriter w = new TensorBoardWriter(dir.resolve("tb"))) {
            w.scalar("train/loss", 1, 5.25, 1700000000.5);
            w.scalar("val/loss", 300, 1.625, 1700000001.25);
            file = w.file();
        }
        assertTrue(file.getFileName().toString().startsWith("events.out.tfevents."));
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        List<byte[]> records = new ArrayList<>();
        while (b.hasRemaining()) {
            byte[] len = new byte[8];
            b.get(len);
            long n = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getLong();
            assertEquals(TensorBoardWriter.maskedCrc(len, 0, 8), b.getInt(), "length CRC");
            byte[] data = new byte[(int) n];
            b.get(data);
            assertEquals(TensorBoardWriter.maskedCrc(data, 0, data.length), b.getInt(), "data CRC");
            records.add(data);
        }
        assertEquals(3, records.size());

        Proto first = new Proto(records.get(0));
        assertEquals(1, first.key());
        first.fixed64();
        assertEquals(3, first.key());
        assertEquals(2, first.rawKey & 7, "length-delimited");
        assertEquals("brain.Event:2", new String(first.bytes(), StandardCharsets.UTF_8));

        Object[][] want = {{"train/loss", 1L, 5.25f, 1700000000.5}, {"val/loss", 300L, 1.625f, 1700000001.25}};
        for (int i = 0; i < 2; i++) {
            Proto e = new Proto(records.get(i + 1));
            assertEquals(1, e.key());
            assertEquals((double) want[i][3], Double.longBitsToDouble(e.fixed64()));
            assertEquals(2, e.key());
            assertEquals((long) want[i][1], e.varint());
            assertEquals(5, e.key());
            Proto summary = new Proto(e.bytes());
            assertEquals(1, summary.key());
            Proto value = new Proto(summary.bytes());
            assertEquals(1, value.key());
            assertArrayEquals(((String) want[i][0]).getBytes(StandardCharsets.UTF_8), value.bytes());
            assertEquals(2, value.key());
            assertEquals(5, value.rawKey & 7, "fixed32");
            assertEquals((float) want[i][2], Float.intBitsToFloat(value.fixed32()));
            assertTrue(value.done() && summary.done() && e.done());
        }
    }

    /** A minimal protobuf reader: keys, varints, fixed32/64 and length-delimited fields. */
    private static final class Proto {
        final ByteBuffer b;
        int rawKey;

        Proto(byte[] data) {
            b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        }

        int key() {
            rawKey = (int) varint();
            return rawKey >>> 3;
        }

        long varint() {
            long v = 0;
            for (int shift = 0; ; shift += 7) {
                int x = b.get() & 0xFF;
                v |= (long) (x & 0x7F) << shift;
                if (x < 0x80) {
                    return v;
                }
            }
        }

        long fixed64() {
            return b.getLong();
        }

        int fixed32() {
            return b.getInt();
        }

        byte[] bytes() {
            byte[] d = new byte[(int) varint()];
            b.get(d);
            return d;
        }

        boolean done() {
            return !b.hasRemaining();
        }
    }
}
