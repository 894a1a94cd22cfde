package sffn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import picocli.CommandLine.TypeConversionException;

class NumberConvertersTest {
    @Test
    void countsInScientificNotation() {
        assertEquals(10_000L, NumberConverters.whole("1e4", Integer.MIN_VALUE, Integer.MAX_VALUE));
        assertEquals(25_500_000_000L, NumberConverters.whole("25.5e9", Long.MIN_VALUE, Long.MAX_VALUE));
        assertEquals(1_000_000L, NumberConverters.whole("1_000_000", Long.MIN_VALUE, Long.MAX_VALUE));
        assertEquals(800L, NumberConverters.whole("800", Integer.MIN_VALUE, Integer.MAX_VALUE));
        assertEquals("'1.5' is not a whole number",
                assertThrows(TypeConversionException.class, () -> NumberConverters.whole("1.5", 0, 10)).getMessage());
        assertEquals("'3e9' is out of range (-2147483648 to 2147483647)", assertThrows(TypeConversionException.class,
                () -> NumberConverters.whole("3e9", Integer.MIN_VALUE, Integer.MAX_VALUE)).getMessage());
        assertEquals("'ten' is not a number",
                assertThrows(TypeConversionException.class, () -> NumberConverters.whole("ten", 0, 10)).getMessage());
    }

    @Test
    void theCommandLineTakesThem(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path text = dir.resolve("a.txt");
        java.nio.file.Files.writeString(text, "word ".repeat(500));
        CommandsEndToEndTest.Run r = CommandsEndToEndTest.run("prepare", "--input", text.toString(), "--tokenizer", "byte",
                "--out", dir.resolve("out").toString(), "--val-fraction", "0", "--shard-tokens", "1e3");
        assertEquals(0, r.code(), r.err());
        assertEquals(true, r.out().contains("2,500 tokens in 3 shards"), r.out());
    }
}
