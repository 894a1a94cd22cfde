package sffn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code sffn bench kernels} is registered and refuses bad options in one line (a full run takes a minute). */
class BenchKernelsCommandTest {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    @Test
    void helpListsTheOptions() {
        assertEquals(0, run("bench", "kernels", "--help"));
        for (String option : new String[] {"--quick", "--threads", "--json"}) {
            assertTrue(out.toString().contains(option), out.toString());
        }
    }

    @Test
    void zeroThreadsIsAUserError() {
        assertEquals(2, run("bench", "kernels", "--threads", "0"));
        assertEquals("sffn kernels: --threads must be at least 1, got 0", err.toString().strip());
    }

    @Test
    void cublasAndTf32NeedTheTornadoBackend() {
        assertEquals(2, run("bench", "kernels", "--matmul", "cublas"));
        assertEquals("sffn kernels: --matmul cublas runs on --backend tornado (a device of TornadoVM's CUDA backend);"
                + " the CPU backend has its own matmul", err.toString().strip());
        err.getBuffer().setLength(0);
        assertEquals(2, run("bench", "kernels", "--tf32"));
        assertEquals("sffn kernels: --tf32 lets cuBLAS use TF32 on --backend tornado; the CPU backend multiplies in FP32"
                + " only", err.toString().strip());
        err.getBuffer().setLength(0);
        assertEquals(2, run("bench", "kernels", "--matmul", "fast"));
        assertEquals("sffn kernels: --matmul fast: choose jit, cublas or auto", err.toString().strip());
    }

    @Test
    void tuneNeedsTheTornadoBackend() {
        assertEquals(2, run("bench", "kernels", "--tune"));
        assertEquals("sffn kernels: --tune times the TornadoVM kernels' tile shapes; add --backend tornado", err.toString().strip());
    }
}
