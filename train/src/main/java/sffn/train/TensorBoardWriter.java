package sffn.train;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.zip.CRC32C;

/**
 * Writes scalars as a TensorBoard event file ({@code events.out.tfevents.<seconds>.<host>}), the
 * format written directly: a TFRecord stream (each record: length as little-endian uint64, masked
 * CRC-32C of those 8 bytes, the data, masked CRC-32C of the data) of {@code Event} protocol
 * buffers. The first event holds {@code file_version "brain.Event:2"}; each scalar is
 * {@code Event{wall_time: 1 double, step: 2 int64, summary: 5 Summary{value: 1 Value{tag: 1
 * string, simple_value: 2 float}}}}. Each event is flushed as written, so TensorBoard shows a
 * running job.
 */
public final class TensorBoardWriter implements Closeable {
    private final Path file;
    private final OutputStream out;

    /** Creates {@code dir} when missing and a new event file in it. */
    public TensorBoardWriter(Path dir) throws IOException {
        Files.createDirectories(dir);
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName().replaceAll("[^A-Za-z0-9._-]", "-");
        } catch (IOException e) {
            host = "localhost";
        }
        long now = System.currentTimeMillis();
        Path f = dir.resolve(String.format(Locale.ROOT, "events.out.tfevents.%d.%s", now / 1000, host));
        for (int i = 1; Files.exists(f); i++) {
            f = dir.resolve(String.format(Locale.ROOT, "events.out.tfevents.%d.%s.%d", now / 1000, host, i));
        }
        this.file = f;
        this.out = Files.newOutputStream(f);
        ByteArrayOutputStream event = new ByteArrayOutputStream();
        fixed64Field(event, 1, Double.doubleToLongBits(now / 1000.0));
        bytesField(event, 3, "brain.Event:2".getBytes(StandardCharsets.UTF_8));
        record(event.toByteArray());
    }

    public Path file() {
        return file;
    }

    /** One scalar point: {@code tag} (e.g. {@code train/loss}) at {@code step}, stamped with {@code wallTime} seconds since the epoch. */
    public void scalar(String tag, long step, double value, double wallTime) throws IOException {
        ByteArrayOutputStream v = new ByteArrayOutputStream();
        bytesField(v, 1, tag.getBytes(StandardCharsets.UTF_8));
        key(v, 2, 5);
        v.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat((float) value).array());
        ByteArrayOutputStream summary = new ByteArrayOutputStream();
        bytesField(summary, 1, v.toByteArray());
        ByteArrayOutputStream event = new ByteArrayOutputStream();
        fixed64Field(event, 1, Double.doubleToLongBits(wallTime));
        key(event, 2, 0);
        varint(event, step);
        bytesField(event, 5, summary.toByteArray());
        record(event.toByteArray());
    }

    @Override
    public void close() throws IOException {
        out.close();
    }

    /** TFRecord's checksum: CRC-32C, rotated right by 15 bits, plus a constant. */
    static int maskedCrc(byte[] data, int off, int len) {
        CRC32C crc = new CRC32C();
        crc.update(data, off, len);
        int c = (int) crc.getValue();
        return ((c >>> 15) | (c << 17)) + 0xa282ead8;
    }

    private void record(byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(16 + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(data.length);
        b.putInt(maskedCrc(b.array(), 0, 8));
        b.put(data);
        b.putInt(maskedCrc(data, 0, data.length));
        out.write(b.array());
        out.flush();
    }

    private static void key(ByteArrayOutputStream o, int field, int wireType) {
        varint(o, ((long) field << 3) | wireType);
    }

    private static void varint(ByteArrayOutputStream o, long v) {
        while ((v & ~0x7FL) != 0) {
            o.write((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        o.write((int) v);
    }

    private static void fixed64Field(ByteArrayOutputStream o, int field, long bits) {
        key(o, field, 1);
        o.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(bits).array());
    }

    private static void bytesField(ByteArrayOutputStream o, int field, byte[] bytes) {
        key(o, field, 2);
        varint(o, bytes.length);
        o.writeBytes(bytes);
    }
}
