package sffn.train.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

class TokenShardTest {
    @TempDir
    Path dir;

    static void writeShard(Path file, int vocabSize, int[] tokens) throws Exception {
        try (TokenShardWriter w = new TokenShardWriter(file, vocabSize)) {
            w.write(tokens, 0, tokens.length);
        }
    }

    private static int[] randomTokens(int n, int vocabSize, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = rnd.nextInt(vocabSize);
        }
        t[0] = vocabSize - 1;
        t[n - 1] = 0;
        return t;
    }

    private void roundTrip(int vocabSize, int expectedVersion) throws Exception {
        int[] tokens = randomTokens(3001, vocabSize, vocabSize);
        Path file = dir.resolve("v" + expectedVersion + "_train_000000.bin");
        writeShard(file, vocabSize, tokens);

        int width = expectedVersion == 1 ? 2 : 4;
        assertEquals(TokenShard.HEADER_BYTES + (long) tokens.length * width, Files.size(file));
        ByteBuffer header = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(20240520, header.getInt(0));
        assertEquals(expectedVersion, header.getInt(4));
        assertEquals(tokens.length, header.getInt(8));
        for (int i = 3; i < TokenShard.HEADER_INTS; i++) {
            assertEquals(0, header.getInt(4 * i));
        }

        TokenShard shard = TokenShard.open(file);
        assertEquals(expectedVersion, shard.version());
        assertEquals(tokens.length, shard.tokenCount());
        for (int i = 0; i < tokens.length; i++) {
            assertEquals(tokens[i], shard.get(i));
        }
        int[] window = new int[1000 + 7];
        java.util.Arrays.fill(window, -7);
        shard.copy(1234, window, 7, 1000);
        for (int i = 0; i < 7; i++) {
            assertEquals(-7, window[i], "copy wrote before its offset");
        }
        assertArrayEquals(java.util.Arrays.copyOfRange(tokens, 1234, 2234), java.util.Arrays.copyOfRange(window, 7, 1007));
        assertEquals(-1, shard.findOutOfVocab(0, tokens.length, vocabSize));
        assertEquals(0, shard.findOutOfVocab(0, tokens.length, vocabSize - 1));
        assertThrows(IndexOutOfBoundsException.class, () -> shard.get(tokens.length));
        assertThrows(IndexOutOfBoundsException.class, () -> shard.copy(tokens.length - 5, window, 0, 6));
    }

    @Test
    void roundTripsUint16Shards() throws Exception {
        roundTrip(50257, 1);
        roundTrip(65536, 1);
    }

    @Test
    void roundTripsUint32Shards() throws Exception {
        roundTrip(65537, 2);
        roundTrip(100277, 2);
    }

    @Test
    void writerRejectsTokensOutsideTheVocabularyAndLeavesNoShard() throws Exception {
        Path file = dir.resolve("x_train_000000.bin");
        TokenShardWriter w = new TokenShardWriter(file, 256);
        w.write(255);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> w.write(256));
        assertEquals("token 256 is outside the vocabulary of 256 ids for which " + file + " is being written", e.getMessage());
        w.close();
        assertFalse(Files.exists(file));
        assertFalse(Files.exists(dir.resolve("x_train_000000.bin.tmp")));
    }

    private Path rawShard(String name, int magic, int version, int count, int payloadBytes, int headerBytes) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(headerBytes + payloadBytes).order(ByteOrder.LITTLE_ENDIAN);
        if (headerBytes >= 12) {
            b.putInt(0, magic).putInt(4, version).putInt(8, count);
        }
        Path file = dir.resolve(name);
        Files.write(file, b.array());
        return file;
    }

    private String openError(Path file) {
        return assertThrows(IllegalArgumentException.class, () -> TokenShard.open(file)).getMessage();
    }

    @Test
    void fileShorterThanTheHeader() throws Exception {
        Path f = rawShard("short.bin", TokenShard.MAGIC, 1, 0, 0, 100);
        assertEquals(f + " is not an llm.c token shard: it holds 100 bytes, fewer than the 1024-byte header (256 int32)",
                openError(f));
    }

    @Test
    void badMagic() throws Exception {
        Path f = rawShard("magic.bin", 12345, 1, 0, 0, 1024);
        assertEquals(f + " is not an llm.c token shard: its header starts with 12345 where a shard has the magic number 20240520",
                openError(f));
    }

    @Test
    void unsupportedVersion() throws Exception {
        Path f = rawShard("version.bin", TokenShard.MAGIC, 3, 0, 0, 1024);
        assertEquals(f + " has token shard version 3, which this runtime does not read (1 = uint16 tokens, 2 = uint32 tokens)",
                openError(f));
    }

    @Test
    void truncatedShard() throws Exception {
        Path f = rawShard("trunc.bin", TokenShard.MAGIC, 1, 1000, 2 * 500, 1024);
        assertEquals(f + " is truncated or damaged: its header promises 1000 tokens (3024 bytes with the header) but the file"
                + " holds 500 tokens (2024 bytes); prepare the shard again", openError(f));
        Path odd = rawShard("odd.bin", TokenShard.MAGIC, 2, 10, 41, 1024);
        assertEquals(odd + " is truncated or damaged: its header promises 10 tokens (1064 bytes with the header) but the file"
                + " holds 10 tokens (1065 bytes, not a whole number of 4-byte tokens); prepare the shard again", openError(odd));
    }

    @Test
    void emptyShardIsValid() throws Exception {
        Path f = dir.resolve("empty.bin");
        writeShard(f, 256, new int[0]);
        assertEquals(0, TokenShard.open(f).tokenCount());
    }
}
