package sffn.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PrepareCommandTest {
    @TempDir
    Path tmp;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    @Test
    void preparesShardsAndReports() throws Exception {
        Path in = Files.createDirectories(tmp.resolve("texts"));
        Files.writeString(in.resolve("a.txt"), "The jury said Friday.\n");
        Files.writeString(in.resolve("b.txt"), "An investigation of the election.\n");
        Files.write(in.resolve("c.dat"), new byte[] {1, 0, 2});
        Path data = tmp.resolve("data");
        int code = run("prepare", "--input", in.toString(), "--tokenizer", "gpt2", "--out", data.toString(), "--no-progress");
        assertEquals(0, code, err.toString());
        assertTrue(Files.exists(data.resolve("data_train_000000.bin")));
        assertTrue(Files.exists(data.resolve("data_val_000000.bin")));
        assertTrue(Files.exists(data.resolve("tokenizer.json")));
        assertTrue(out.toString().startsWith("Prepared 2 documents"), out.toString());
        assertTrue(err.toString().startsWith("warning: skipping " + in.resolve("c.dat") + ": binary"), err.toString());
    }

    @Test
    void userErrorsAreOneLine() {
        int code = run("prepare", "--input", tmp.toString(), "--tokenizer", "sentencepiece", "--out", tmp.resolve("o").toString());
        assertEquals(2, code);
        assertEquals("sffn prepare: unknown tokenizer 'sentencepiece'; give one of byte, gpt2, cl100k, llama32k or the path of a Hugging Face tokenizer.json",
                err.toString().strip());
    }
}
