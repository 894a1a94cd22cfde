package sffn.cli.bench;

import java.util.Arrays;
import java.util.SplittableRandom;
import sffn.kernels.cpu.Workers;

/**
 * OpenBLAS sgemm's GFLOP/s at one large shape on this process's thread count: the yardstick
 * that FLOP utilisation is quoted against ("model FLOPs per second over OpenBLAS's").
 */
public final class Yardstick {
    public static final int M = 4096;
    public static final int N = 3072;
    public static final int K = 768;

    /** Result of one measurement. */
    public record Result(double gflops, String core, int threads) {
        public String describe() {
            return String.format(java.util.Locale.ROOT, "OpenBLAS sgemm %dx%dx%d on %d threads, core %s: %.1f GFLOP/s",
                    M, N, K, threads, core, gflops);
        }
    }

    private Yardstick() {
    }

    /** About two seconds: warm-up, then the median of seven timed calls. */
    public static Result sgemm() {
        try (Sampler s = new Sampler()) {
            double[] g = new double[7];
            for (int i = 0; i < g.length; i++) g[i] = s.call();
            Arrays.sort(g);
            return new Result(g[g.length / 2], OpenBlasSgemm.coreName(), OpenBlasSgemm.threads());
        }
    }

    /** OpenBLAS warmed up (about a second) for {@link Sampler#sample} calls, one at a time. */
    public static Sampler sampler() {
        return new Sampler();
    }

    /** The yardstick's operands in native memory, for single calls between other work. */
    public static final class Sampler implements AutoCloseable {
        private final OpenBlasSgemm ob;

        private Sampler() {
            OpenBlasSgemm.setThreads(Workers.pool().threads());
            SplittableRandom r = new SplittableRandom(1);
            float[] a = new float[M * K];
            float[] b = new float[N * K];
            for (int i = 0; i < a.length; i++) a[i] = (float) r.nextDouble();
            for (int i = 0; i < b.length; i++) b[i] = (float) r.nextDouble();
            ob = new OpenBlasSgemm(false, true, M, N, K, a, b);
            long until = System.nanoTime() + 1_000_000_000L;
            while (System.nanoTime() < until) ob.run();
        }

        /** One timed call: its GFLOP/s. */
        public double call() {
            long s = System.nanoTime();
            ob.run();
            return 2.0 * M * N * K / ((System.nanoTime() - s) / 1e9) / 1e9;
        }

        /** Three timed calls: the median GFLOP/s (one call alone varied 227-389 GFLOP/s within a minute). */
        public double sample() {
            double[] g = {call(), call(), call()};
            Arrays.sort(g);
            return g[1];
        }

        /** "OpenBLAS sgemm 4096x3072x768 on 2 threads, core ...". */
        public String describe() {
            return String.format(java.util.Locale.ROOT, "OpenBLAS sgemm %dx%dx%d on %d threads, core %s", M, N, K,
                    OpenBlasSgemm.threads(), OpenBlasSgemm.coreName());
        }

        @Override
        public void close() {
            ob.close();
        }
    }

    /** A warning when the environment keeps OpenBLAS from its best kernels, else null. */
    public static String environmentWarning() {
        String core = System.getenv("OPENBLAS_CORETYPE");
        if (core == null || core.isBlank()) return null;
        return "note: OPENBLAS_CORETYPE=" + core + " is set, so the OpenBLAS yardstick may not use its best kernels;"
                + " unset it (and OPENBLAS_L2_SIZE) for this command, e.g. env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ...";
    }
}
