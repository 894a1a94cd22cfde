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
            + " the CPU, device time per launch on TornadoVM (its profiler; for short runs, it keeps its log in memory).")
    boolean profile;

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
        return Backends.create(backend, device, profile);
    }

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
