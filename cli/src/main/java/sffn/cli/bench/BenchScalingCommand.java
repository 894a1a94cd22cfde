package sffn.cli.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sffn.nn.ModelStats;
import sffn.nn.config.MethodConfig;
import sffn.nn.config.ModelConfig;
import sffn.train.data.TokenShardWriter;

/**
 * {@code sffn bench scaling}: data-parallel training throughput on 1 and N ranks of this
 * machine (weak scaling: the per-rank batch stays fixed), and on paper for N nodes.
 *
 * <p>Measured: each rank count trains the same model for a few steps on random tokens, one
 * kernel thread per rank; tokens/s and the time waiting on communication come from the run's
 * {@code metrics.jsonl} (median over the steps after the first third, which warm up the JIT).
 * Scaling efficiency = tokens/s on N ranks / (N x tokens/s on one).
 *
 * <p>Projected: a ring all-reduce of G gradient bytes over N nodes moves {@code 2(N-1)/N x G}
 * bytes through each node's link, so it takes {@code 2(N-1)/N x G / bandwidth}. With per-node
 * compute time C for a step (the model's training FLOPs of one node's tokens over a node's
 * FLOP rate), one step takes C + comm without overlap and max(C, comm) with perfect overlap; the
 * efficiency is C over that.
 */
@Command(name = "scaling", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Data-parallel tokens/s on 1 and 2 ranks (mpirun, one kernel thread each), scaling efficiency and"
                + " communication share; then a projection for 1..64 nodes at given network bandwidths.")
public final class BenchScalingCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--config", paramLabel = "<model.json>", description = "Model to train (default configs/model/tiny.json).")
    Path config = Path.of("configs", "model", "tiny.json");

    @Option(names = "--method", paramLabel = "<method.json>", description = "FFN method config (default dense).")
    Path method;

    @Option(names = "--ranks", split = ",", description = "Rank counts to measure (default 1,2).")
    int[] ranks = {1, 2};

    @Option(names = "--steps", description = "Optimizer steps per run (default 24).")
    int steps = 24;

    @Option(names = "--batch-size", description = "Sequences per rank per step (default 8).")
    int batchSize = 8;

    @Option(names = "--seq-len", description = "Tokens per sequence (default: the model's context).")
    Integer seqLen;

    @Option(names = "--threads", description = "Kernel threads per rank (default 1).")
    int threads = 1;

    @Option(names = "--mpirun-options", paramLabel = "<options>",
            description = "Extra mpirun options, space-separated (e.g. \"--mca btl tcp,self\").")
    String mpirunOptions = "";

    @Option(names = "--bandwidth-gbit", split = ",", description = "Network bandwidths for the projection (default 25,100).")
    double[] bandwidths = {25, 100};

    @Option(names = "--project", split = ",", paramLabel = "<size>",
            description = "Paper sizes to project (default s,xl): configs/model/transformer-<size>.json, dense and"
                    + " configs/method/<size>/lowrank-32.json.")
    String[] project = {"s", "xl"};

    @Option(names = "--project-tokens", description = "Tokens per node per step in the projection (default 8 x 1024).")
    long projectTokens = 8 * 1024;

    @Option(names = "--node-gflops", split = ",", description = "Training GFLOP/s of one node in the projection (default: what"
            + " one rank reached here, i.e. nodes like one core of this machine, and 100000, a GPU node sustaining 100 TFLOP/s).")
    double[] nodeGflops;

    record Measured(int ranks, double tokensPerSecond, double stepSeconds, double commSeconds, double copySeconds,
                    double gflops) {
    }

    @Override
    public Integer call() throws Exception {
        ModelConfig m = ModelConfig.read(config);
        MethodConfig f = method == null ? MethodConfig.DENSE : MethodConfig.read(method);
        f.checkAgainst(m, method == null ? "method" : method.toString());
        int t = seqLen != null ? seqLen : m.maxPositionEmbeddings();
        ModelStats stats = ModelStats.of(m, f, t);
        System.out.printf(Locale.ROOT, "bench scaling: %s%s, %.2fM parameters (%.1f MB of float gradients per step),"
                        + " batch %d x %d tokens per rank, %d kernel thread(s) per rank, %d steps%n", config,
                method == null ? "" : " + " + method, stats.modelParams() / 1e6, stats.modelParams() * 4 / 1e6, batchSize, t,
                threads, steps);
        System.out.println("(on a machine other work also loads, the efficiency is noisy: run it alone)");
        Path work = Files.createTempDirectory("sffn-bench-scaling");
        List<Measured> results = new ArrayList<>();
        try {
            Path data = syntheticData(work, m.vocabSize(), (long) Arrays.stream(ranks).max().orElse(1) * batchSize * (t + 1) * 4);
            for (int n : ranks) {
                Measured r = measure(n, data, work.resolve("run-" + n), stats, t);
                results.add(r);
                System.out.printf(Locale.ROOT, "%d rank(s): %,.0f tokens/s, step %.1f ms, waiting on communication %.1f ms"
                        + " (%.1f%% of the step)%s%n", n, r.tokensPerSecond(), 1e3 * r.stepSeconds(), 1e3 * r.commSeconds(),
                        100 * r.commSeconds() / r.stepSeconds(), n == 1 ? "" : String.format(Locale.ROOT,
                                ", copying gradients to and from the MPI buffers %.1f ms", 1e3 * r.copySeconds()));
            }
        } finally {
            deleteOurs(work);
        }
        Measured one = results.stream().filter(r -> r.ranks() == 1).findFirst().orElse(null);
        if (one != null) {
            for (Measured r : results) {
                if (r.ranks() == 1) continue;
                System.out.printf(Locale.ROOT, "scaling efficiency on %d ranks: %.1f%% (%,.0f tokens/s against %d x %,.0f)%n",
                        r.ranks(), 100 * r.tokensPerSecond() / (r.ranks() * one.tokensPerSecond()), r.tokensPerSecond(),
                        r.ranks(), one.tokensPerSecond());
            }
        }
        double[] rates = nodeGflops != null ? nodeGflops : one != null ? new double[] {one.gflops(), 1e5} : new double[] {1e5};
        project(rates);
        return 0;
    }

    private Measured measure(int n, Path data, Path out, ModelStats stats, int t) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        if (n > 1) {
            cmd.addAll(List.of("mpirun", "-np", Integer.toString(n)));
            if ("root".equals(System.getProperty("user.name"))) cmd.add("--allow-run-as-root");
            if (n * threads > Runtime.getRuntime().availableProcessors()) cmd.add("--oversubscribe");
            if (!mpirunOptions.isBlank()) cmd.addAll(Arrays.asList(mpirunOptions.trim().split("\\s+")));
        }
        cmd.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.addAll(List.of("-Dsffn.threads=" + threads, "-cp", System.getProperty("java.class.path"), "sffn.cli.Main",
                "train", "--config", config.toString(), "--data", data.toString(), "--out", out.toString(),
                "--steps", Integer.toString(steps), "--batch-size", Integer.toString(batchSize), "--seq-len", Integer.toString(t),
                "--eval-windows", "1", "--save-every", "0"));
        if (method != null) cmd.addAll(List.of("--method", method.toString()));
        Path log = out.resolveSibling(out.getFileName() + ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(30, TimeUnit.MINUTES)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            throw new IllegalStateException("the " + n + "-rank run did not end within 30 minutes");
        }
        if (p.exitValue() != 0) {
            throw new IllegalStateException("the " + n + "-rank run failed (exit " + p.exitValue() + "): " + String.join(" ", cmd)
                    + "\n" + Files.readString(log));
        }
        List<double[]> rows = new ArrayList<>();
        for (String line : Files.readAllLines(out.resolve("metrics.jsonl"))) {
            JsonNode j = JSON.readTree(line);
            if (!j.has("loss")) continue;
            double tps = j.get("tokens_per_s").asDouble();
            double tokensPerStep = (double) n * batchSize * t;
            rows.add(new double[] {tokensPerStep / tps, j.path("comm_wait_s").asDouble(0), j.path("comm_copy_s").asDouble(0)});
        }
        List<double[]> timed = rows.subList(rows.size() / 3, rows.size());
        double step = median(timed.stream().mapToDouble(r -> r[0]).toArray());
        double comm = median(timed.stream().mapToDouble(r -> r[1]).toArray());
        double copy = median(timed.stream().mapToDouble(r -> r[2]).toArray());
        double tps = n * batchSize * t / step;
        return new Measured(n, tps, step, comm, copy, stats.trainingFlops(tps) / n / 1e9);
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length == 0 ? Double.NaN : s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private void project(double[] rates) throws IOException {
        System.out.printf(Locale.ROOT, "%nprojection for N nodes: all-reduce = 2(N-1)/N x float gradient bytes / bandwidth (ring);"
                + " compute = training FLOPs of %,d tokens per node and step / the node's FLOP rate;%nefficiency = compute /"
                + " (compute + all-reduce) without overlap, compute / max(compute, all-reduce) with full overlap (the bounds of"
                + " bucketed all-reduce)%n", projectTokens);
        int[] nodes = {1, 2, 4, 8, 16, 32, 64};
        for (String size : project) {
            ModelConfig m = ModelConfig.read(Path.of("configs", "model", "transformer-" + size + ".json"));
            for (Path methodFile : new Path[] {null, Path.of("configs", "method", size, "lowrank-32.json")}) {
                MethodConfig f = methodFile == null ? MethodConfig.DENSE : MethodConfig.read(methodFile);
                ModelStats s = ModelStats.of(m, f);
                double gradBytes = 4.0 * s.modelParams();
                for (double gflops : rates) {
                    double compute = s.trainingFlops(projectTokens) / (gflops * 1e9);
                    System.out.printf(Locale.ROOT, "%ntransformer-%s %s: %.0fM parameters, %.0f MB of gradients; node at %,.4g"
                                    + " GFLOP/s: compute %.3g s per step%n", size,
                            methodFile == null ? "dense" : "lowrank-32%", s.modelParams() / 1e6, gradBytes / 1e6, gflops, compute);
                    StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "%5s", "nodes"));
                    for (double bw : bandwidths) {
                        head.append(String.format(Locale.ROOT, " | %4.0f Gbit/s: all-reduce   eff.  overlapped", bw));
                    }
                    System.out.println(head);
                    for (int n : nodes) {
                        StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%5d", n));
                        for (double bw : bandwidths) {
                            double comm = n == 1 ? 0 : 2.0 * (n - 1) / n * gradBytes / (bw * 1e9 / 8);
                            row.append(String.format(Locale.ROOT, " | %21.3g s %5.1f%% %10.1f%%", comm,
                                    100 * compute / (compute + comm), 100 * compute / Math.max(compute, comm)));
                        }
                        System.out.println(row);
                    }
                    StringBuilder last = new StringBuilder(String.format(Locale.ROOT, "tokens/s on %d nodes without overlap:",
                            nodes[nodes.length - 1]));
                    for (double bw : bandwidths) {
                        int n = nodes[nodes.length - 1];
                        double comm = 2.0 * (n - 1) / n * gradBytes / (bw * 1e9 / 8);
                        last.append(String.format(Locale.ROOT, " %,.0f at %.0f Gbit/s;", n * projectTokens / (compute + comm), bw));
                    }
                    System.out.println(last);
                }
            }
        }
    }

    /** Random tokens: throughput does not depend on what is learnt. */
    private static Path syntheticData(Path work, int vocab, long trainTokens) throws IOException {
        Path dir = Files.createDirectories(work.resolve("data"));
        Random r = new Random(1);
        try (TokenShardWriter train = new TokenShardWriter(dir.resolve("random_train_000000.bin"), vocab);
             TokenShardWriter val = new TokenShardWriter(dir.resolve("random_val_000000.bin"), vocab)) {
            for (long i = 0; i < trainTokens; i++) train.write(r.nextInt(vocab));
            for (int i = 0; i < 8192; i++) val.write(r.nextInt(vocab));
        }
        return dir;
    }

    /** Deletes the temporary directory this command created, and only what is in it. */
    private static void deleteOurs(Path work) throws IOException {
        try (var files = Files.walk(work)) {
            for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
