package sffn.cli;

import picocli.CommandLine.Option;
import sffn.kernels.backend.Backend;
import sffn.kernels.backend.Backends;

/** {@code --backend} and {@code --device}, for every command that runs plans ({@code @Mixin}). */
public final class BackendOptions {
    @Option(names = "--backend", paramLabel = "cpu|tornado", defaultValue = "cpu",
            description = "Where kernels run: cpu (Vector API, all cores; default) or tornado (a TornadoVM device;"
                    + " run under TornadoVM with scripts/sffn-tornado).")
    String backend;

    @Option(names = "--device", paramLabel = "<backend:device>",
            description = "TornadoVM device as 'sffn devices' lists it, e.g. 0:1 (default: TornadoVM's default device).")
    String device;

    @Option(names = "--profile", description = "At the end, print the time per kind of kernel: wall time per call on"
            + " the CPU (for train, over the steps after the first three, without evaluations), device time per launch"
            + " on TornadoVM (its profiler; for short runs, it keeps its log in memory).")
    boolean profile;

    @Option(names = "--matmul", paramLabel = "jit|cublas|auto",
            description = "On --backend tornado, the matmuls: jit (sffn's own kernels, JIT-compiled by TornadoVM), cublas"
                    + " (cuBLAS library tasks: a device of TornadoVM's CUDA backend) or auto (cuBLAS where the device"
                    + " offers it, else jit; default).")
    String matmul;

    @Option(names = "--tf32", description = "Let cuBLAS multiply in TF32 on tensor cores (faster, about 3 decimal digits"
            + " in each product); off by default: FP32.")
    boolean tf32;

    @Option(names = "--threads", paramLabel = "<n>",
            description = "Kernel threads on the CPU (default: -Dsffn.threads, else all cores).")
    public Integer threads;

    /** {@code cpu} or {@code tornado}, as given. */
    public String backendName() {
        return backend;
    }

    /** The backend the options name; throws a user-facing exception when TornadoVM is asked for but absent. */
    public Backend create() {
        applyThreads();
        applyMatmul();
        return Backends.create(backend, device, profile);
    }

    /**
     * Hands {@code --matmul} and {@code --tf32} to the TornadoVM backend through its system
     * properties ({@code sffn.tornado.matmul}, {@code sffn.tornado.tf32}); {@code --matmul jit} keeps
     * a JIT variant given there ({@code -Dsffn.tornado.matmul=reg:T64}, ...).
     */
    void applyMatmul() {
        boolean cpu = "cpu".equalsIgnoreCase(backend);
        if (matmul != null) {
            String m = matmul.trim().toLowerCase(java.util.Locale.ROOT);
            if (!m.equals("jit") && !m.equals("cublas") && !m.equals("auto")) {
                throw new IllegalArgumentException("--matmul " + matmul + ": choose jit, cublas or auto");
            }
            if (cpu && m.equals("cublas")) {
                throw new IllegalArgumentException("--matmul cublas runs on --backend tornado (a device of TornadoVM's CUDA"
                        + " backend); the CPU backend has its own matmul");
            }
            if (!cpu) {
                String prop = System.getProperty(MATMUL_PROPERTY);
                boolean jitProp = prop != null && !prop.trim().toLowerCase(java.util.Locale.ROOT).startsWith("cublas")
                        && !prop.trim().equalsIgnoreCase("auto");
                System.setProperty(MATMUL_PROPERTY, m.equals("jit") ? (jitProp ? prop : "reg") : m);
            }
        }
        if (tf32) {
            if (cpu) {
                throw new IllegalArgumentException("--tf32 lets cuBLAS use TF32 on --backend tornado; the CPU backend"
                        + " multiplies in FP32 only");
            }
            System.setProperty(TF32_PROPERTY, "true");
        }
    }

    /** The TornadoVM backend's properties (named here so the CPU path loads none of its classes). */
    static final String MATMUL_PROPERTY = "sffn.tornado.matmul";
    static final String TF32_PROPERTY = "sffn.tornado.tf32";

    /** Sizes the kernel thread pool from {@code --threads} (before its first use) and returns its size. */
    public int applyThreads() {
        if (threads != null) {
            if (threads < 1) throw new IllegalArgumentException("--threads must be at least 1, got " + threads);
            // The pool is sized once, from this property, when a kernel first runs.
            System.setProperty("sffn.threads", Integer.toString(threads));
        }
        int poolThreads = sffn.kernels.cpu.Workers.pool().threads();
        if (threads != null && poolThreads != threads) {
            throw new IllegalStateException("the kernel thread pool already runs " + poolThreads
                    + " threads; start the JVM with -Dsffn.threads=" + threads + " instead of --threads");
        }
        return poolThreads;
    }
}
