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
import sffn.kernels.Matmul;
import sffn.kernels.cpu.Workers;

/**
 * Dense matmul on the CPU backend beside OpenBLAS sgemm of the same shape and layout:
 * forward {@code C = A W^T} (NT), backwardInput {@code dA = dC W} (NN), backwardWeight
 * {@code dW = dC^T A} (TN), each 2 m n k FLOPs, so GFLOP/s = 2 m n k / (ms * 1e6).
 *
 * <p>Shapes (m x n x k of the forward): the "s" model's FFN at 4096 tokens (fc1 768 -> 3072 and
 * fc2 3072 -> 768) and one 16-token decode step. For OpenBLAS's AVX-512 kernels run with
 * OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, e.g.
 * {@code env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE java -jar bench/target/sffn-benchmarks.jar Matmul}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "-XX:+UseParallelGC", "-Xss8m"})
public class MatmulBenchmark {

    @Param({"4096x3072x768", "4096x768x3072", "16x3072x768"})
    public String shape;

    private int m;
    private int n;
    private int k;
    private float[] a;
    private float[] w;
    private float[] c;
    private float[] dc;
    private float[] da;
    private float[] dw;
    private OpenBlasSgemm forward;
    private OpenBlasSgemm backwardInput;
    private OpenBlasSgemm backwardWeight;

    @Setup(Level.Trial)
    public void setup() {
        String[] s = shape.split("x");
        m = Integer.parseInt(s[0]);
        n = Integer.parseInt(s[1]);
        k = Integer.parseInt(s[2]);
        SplittableRandom r = new SplittableRandom(1);
        a = random(r, m * k);
        w = random(r, n * k);
        dc = random(r, m * n);
        c = new float[m * n];
        da = new float[m * k];
        dw = new float[n * k];
        int threads = Workers.pool().threads();
        OpenBlasSgemm.setThreads(threads);
        forward = new OpenBlasSgemm(false, true, m, n, k, a, w);
        backwardInput = new OpenBlasSgemm(false, false, m, k, n, dc, w);
        backwardWeight = new OpenBlasSgemm(true, false, n, k, m, dc, a);
        System.out.println("\nsffn: " + threads + " threads; OpenBLAS: "
                + OpenBlasSgemm.coreName() + ", " + OpenBlasSgemm.threads() + " threads"
                + "; " + shape + " is " + String.format("%.3f", 2e-9 * m * n * k) + " GFLOP per call");
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        forward.close();
        backwardInput.close();
        backwardWeight.close();
    }

    static float[] random(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (2 * r.nextDouble() - 1);
        return x;
    }

    @Benchmark
    public float[] forwardSffn() {
        Matmul.forwardCpu(a, w, null, c, m, n, k, false);
        return c;
    }

    @Benchmark
    public void forwardOpenBlas() {
        forward.run();
    }

    @Benchmark
    public float[] backwardInputSffn() {
        Matmul.backwardInputCpu(dc, w, da, m, n, k, false);
        return da;
    }

    @Benchmark
    public void backwardInputOpenBlas() {
        backwardInput.run();
    }

    @Benchmark
    public float[] backwardWeightSffn() {
        Matmul.backwardWeightCpu(dc, a, dw, m, n, k, false);
        return dw;
    }

    @Benchmark
    public void backwardWeightOpenBlas() {
        backwardWeight.run();
    }
}
