package sffn.cli.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import sffn.cli.BackendOptions;
import sffn.kernels.backend.Backend;
import sffn.kernels.cpu.Workers;
import sffn.kernels.tornado.MatmulVariant;

/** {@code sffn bench kernels}: GFLOP/s of the kernels on a backend beside OpenBLAS sgemm in the same run. */
@Command(name = "kernels", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"GFLOP/s of the compute-heavy kernels on the chosen backend (matmul and its two backward products,"
                + " decoding's matvec and small-M products with fp32, bf16 and int8 weights (also in GB/s), block-diagonal matmul, causal attention, layernorm, cross-entropy) beside OpenBLAS sgemm measured"
                + " in the same run on the same number of threads: on the same shape for GEMM-shaped ops, at one"
                + " representative shape for the others. Median of timed rounds after warm-up; about 90 s (--quick: 20 s)."})
public final class BenchKernelsCommand implements Callable<Integer> {

    @Option(names = "--quick", description = "Fewer shapes and shorter rounds (about 20 s).")
    boolean quick;

    @Option(names = "--only", split = ",", paramLabel = "<group>", description = "Measure only these groups of ops:"
            + " matmul, blockdiag, attention, layernorm, crossentropy (default: all). Without matmul the others have no"
            + " yardstick.")
    java.util.List<String> only;


    @Option(names = "--json", description = "One JSON object per measurement on stdout instead of a table.")
    boolean json;

    @Option(names = "--tune", description = "With --backend tornado: time the register-tiled matmul's tile shapes on the"
            + " device, record the fastest in sffn's cache (~/.cache/sffn/tornado-tiles.properties; -Dsffn.cache.dir moves"
            + " it), where later runs on this device find it, and stop.")
    boolean tune;

    /** The matmul family's bodies measured on a TornadoVM device, in order (the device's own choice last). */
    static final java.util.List<String> TORNADO_VARIANTS = java.util.List.of("loop", "tile16", "reg");
    /** Measured after {@link #TORNADO_VARIANTS} where the device offers cuBLAS: FP32, then TF32. */
    static final java.util.List<String> CUBLAS_VARIANTS = java.util.List.of("cublas", "cublas-tf32");

    @Mixin
    BackendOptions backendOptions;

    private String backendName;

    private final ObjectMapper mapper = new ObjectMapper();
    private int threadCount;
    private String openblasCore;
    private int openblasThreads;

    @Override
    public Integer call() {
        // --threads (of the backend options) sets both sffn's pool and OpenBLAS's threads
        int poolThreads = backendOptions.applyThreads();
        String coreType = System.getenv("OPENBLAS_CORETYPE");
        if (coreType != null) {
            System.err.println("warning: OPENBLAS_CORETYPE=" + coreType + " is set, so OpenBLAS may not use its best kernels"
                    + " for this CPU and the yardstick would be too low; unset it (and OPENBLAS_L2_SIZE) for a fair comparison,"
                    + " e.g. env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE scripts/sffn bench kernels");
        }
        if (only != null) {
            for (String g : only) {
                if (!KernelBench.GROUPS.contains(g)) {
                    throw new IllegalArgumentException("--only: unknown group '" + g + "'; choose among "
                            + String.join(", ", KernelBench.GROUPS));
                }
            }
        }
        boolean tornado = !"cpu".equalsIgnoreCase(backendOptions.backendName());
        if (tune && !tornado) {
            throw new IllegalArgumentException("--tune times the TornadoVM kernels' tile shapes; add --backend tornado");
        }
        OpenBlasSgemm.setThreads(poolThreads);
        String vector = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize() + "-bit vectors";
        this.threadCount = poolThreads;
        this.openblasCore = OpenBlasSgemm.coreName();
        this.openblasThreads = OpenBlasSgemm.threads();
        if (tune) {
            try {
                TileTuner.tune(quick, backendOptions::create);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("cannot record the tuned tile shape: " + e.getMessage(), e);
            }
            return 0;
        }
        java.util.List<String> groups = only == null ? KernelBench.GROUPS : only;
        // On a TornadoVM device the matmul family runs once per variant; the matmul property is the backend's choice.
        String userVariant = System.getProperty(sffn.kernels.tornado.MatmulVariant.PROPERTY);
        java.util.List<String> variants = tornado && userVariant == null
                && (groups.contains("matmul") || groups.contains("blockdiag")) ? TORNADO_VARIANTS : java.util.List.of("");
        if (variants.size() > 1) {
            if (System.getProperty(sffn.kernels.tornado.TornadoBackend.TF32_PROPERTY) != null) {
                throw new IllegalArgumentException("--tf32: bench kernels measures cuBLAS with and without TF32 by itself"
                        + " where the device offers cuBLAS; drop --tf32, or add --matmul cublas to measure that alone");
            }
            System.setProperty(sffn.kernels.tornado.MatmulVariant.PROPERTY, variants.get(0));
        }
        Backend backend = backendOptions.create();
        backendName = backend.describe();
        if (backend instanceof sffn.kernels.tornado.TornadoBackend tb && !tb.matmul().isCublas()) {
            String noCublas = tb.cublasUnavailableReason();
            if (noCublas == null && variants.size() > 1) {
                variants = new java.util.ArrayList<>(variants);
                variants.addAll(CUBLAS_VARIANTS);
            } else {
                System.err.println("cuBLAS not measured: " + (noCublas != null ? noCublas
                        : "no matmul group, or one matmul variant asked for (--only, --matmul or -D" + MatmulVariant.PROPERTY + ")") + ".");
            }
        }
        if (!json) {
            System.out.println("backend: " + backendName);
            System.out.printf(Locale.ROOT, "sffn: %d CPU threads, %s%n", poolThreads, vector);
            System.out.printf(Locale.ROOT, "yardstick: OpenBLAS %s, core %s, %d threads%n", OpenBlasSgemm.config(),
                    OpenBlasSgemm.coreName(), OpenBlasSgemm.threads());
            System.out.println("GFLOP/s: median of timed rounds after warm-up; ratio = sffn / yardstick.");

            System.out.println();
            System.out.printf(Locale.ROOT, "%-29s %-22s %9s %9s %9s %6s  %s%n", "op", "shape", "ms", "GFLOP/s",
                    "yardstick", "ratio", "yardstick is / note");
        }
        long start = System.nanoTime();
        if (variants.size() == 1) {
            try (Backend b = backend) {
                new KernelBench(quick, b, this::emit).variant(tornado ? variantOf(b) : null, true).run(groups);
            }
        } else {
            java.util.List<String> family = groups.stream().filter(g -> g.equals("matmul") || g.equals("blockdiag")).toList();
            for (int i = 0; i < variants.size(); i++) {
                if (i > 0) {
                    System.setProperty(sffn.kernels.tornado.MatmulVariant.PROPERTY, variants.get(i));
                    backend = backendOptions.create();
                    backendName = backend.describe();
                }
                boolean last = i == variants.size() - 1;
                try (Backend b = backend) {
                    // The compact-weight products and the other groups do not depend on the variant: measured once, last.
                    new KernelBench(quick, b, this::emit).variant(variantOf(b), last).run(last ? groups : family);
                }
            }
            System.clearProperty(sffn.kernels.tornado.MatmulVariant.PROPERTY);
        }
        if (!json) System.out.printf(Locale.ROOT, "%ntook %.0f s%n", (System.nanoTime() - start) / 1e9);
        return 0;
    }

    private void emit(KernelBench.Result r) {
        if (json) {
            ObjectNode n = mapper.createObjectNode();
            n.put("op", r.op());
            n.put("shape", r.shape());
            n.put("backend", backendName);
            int at = backendName.lastIndexOf(", matmul ");
            if (at >= 0) n.put("matmul", backendName.substring(at + 9));
            n.put("gflops", round(r.gflops()));
            if (Double.isNaN(r.yardstickGflops())) {
                n.putNull("yardstick_gflops");
                n.putNull("ratio");
            } else {
                n.put("yardstick_gflops", round(r.yardstickGflops()));
                n.put("ratio", Math.round(r.ratio() * 1000) / 1000.0);
            }
            n.put("ms", Math.round(r.ms() * 1000) / 1000.0);
            n.put("yardstick", r.yardstick());
            n.put("note", r.note());
            n.put("threads", threadCount);
            n.put("openblas_core", openblasCore);
            n.put("openblas_threads", openblasThreads);
            System.out.println(n);
        } else {
            System.out.printf(Locale.ROOT, "%-29s %-22s %9.3f %9.1f %9.1f %6.2f  %s; %s%n", r.op(), r.shape(), r.ms(),
                    r.gflops(), r.yardstickGflops(), r.ratio(), r.yardstick(), r.note());
        }
        System.out.flush();
    }

    /** The matmul variant a TornadoVM backend names in its description ({@code ..., matmul reg 64x64/4x4}). */
    private static String variantOf(Backend b) {
        String d = b.describe();
        int at = d.lastIndexOf(", matmul ");
        return at < 0 ? "matmul loop" : "matmul" + d.substring(at + 8);
    }

    private static double round(double x) {
        return Math.round(x * 10) / 10.0;
    }
}
