package sffn.bench;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import sffn.cli.bench.OpenBlasSgemm;
import sffn.kernels.BlockDiagMatmul;
import sffn.kernels.Matmul;
import sffn.kernels.cpu.Workers;

/**
 * Block-diagonal matmul at nb = 2 and 4 blocks beside the dense product of equal FLOPs and equal
 * output (sffn's and OpenBLAS's): BlockDense's first factor at width 768 with rank 768,
 * x [4096, 768] through blocks [nb, 768/nb, 768/nb] to [4096, 768] (BlockShuffle's first
 * factor has the same shape). FLOPs 2 * 4096 * 768 * 768 / nb in every method of a given nb.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "-XX:+UseParallelGC", "-Xss8m"})
public class BlockDiagBenchmark {
    private static final int ROWS = 4096;
    private static final int WIDTH = 768;

    @Param({"2", "4"})
    public int nb;

    private int q;
    private int p;
    private float[] x;
    private float[] w;
    private float[] y;
    private float[] dy;
    private float[] dx;
    private float[] dw;
    /** The equal-FLOP dense product: [ROWS, p] x [nb q, p]^T. */
    private float[] xd;
    private float[] wd;
    private float[] yd;
    private OpenBlasSgemm dense;

    @Setup(Level.Trial)
    public void setup() {
        q = WIDTH / nb;
        p = WIDTH / nb;
        SplittableRandom r = new SplittableRandom(nb);
        x = MatmulBenchmark.random(r, ROWS * nb * p);
        w = MatmulBenchmark.random(r, nb * q * p);
        y = new float[ROWS * nb * q];
        dy = MatmulBenchmark.random(r, ROWS * nb * q);
        dx = new float[ROWS * nb * p];
        dw = new float[nb * q * p];
        xd = MatmulBenchmark.random(r, ROWS * p);
        wd = MatmulBenchmark.random(r, nb * q * p);
        yd = new float[ROWS * nb * q];
        OpenBlasSgemm.setThreads(Workers.pool().threads());
        dense = new OpenBlasSgemm(false, true, ROWS, nb * q, p, xd, wd);
        System.out.println("\nsffn: " + Workers.pool().threads() + " threads; OpenBLAS: "
                + OpenBlasSgemm.coreName() + ", " + OpenBlasSgemm.threads() + " threads; "
                + String.format("%.3f", 2e-9 * ROWS * nb * q * p) + " GFLOP per call");
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        dense.close();
    }

    @Benchmark
    public float[] forward() {
        BlockDiagMatmul.forwardCpu(x, w, y, ROWS, nb, q, p, false);
        return y;
    }

    @Benchmark
    public float[] backwardInput() {
        BlockDiagMatmul.backwardInputCpu(dy, w, dx, ROWS, nb, q, p, false);
        return dx;
    }

    @Benchmark
    public float[] backwardWeight() {
        BlockDiagMatmul.backwardWeightCpu(dy, x, dw, ROWS, nb, q, p, false);
        return dw;
    }

    @Benchmark
    public float[] denseEqualFlopsSffn() {
        Matmul.forwardCpu(xd, wd, null, yd, ROWS, nb * q, p, false);
        return yd;
    }

    @Benchmark
    public void denseEqualFlopsOpenBlas() {
        dense.run();
    }
}
