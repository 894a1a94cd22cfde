package sffn.cli.bench;

import sffn.cli.OptionRanges;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.reflect.RecordComponent;
import java.nio.file.Path;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import sffn.cli.BackendOptions;
import sffn.decode.DecodeGraph;
import sffn.decode.FfnPath;
import sffn.decode.KvCacheTensors;
import sffn.decode.MergeCalibration;
import sffn.decode.MergePolicy;
import sffn.decode.MergedWeights;
import sffn.kernels.Tensor;
import sffn.kernels.backend.Backend;
import sffn.kernels.backend.Timing;
import sffn.kernels.plan.KernelCall;
import sffn.kernels.plan.Plan;
import sffn.nn.Gpt;
import sffn.nn.Parameter;
import sffn.nn.config.MethodConfig;
import sffn.nn.config.ModelConfig;
import sffn.nn.config.PostInit;

/**
 * {@code sffn bench decode}: decode tokens/s of a randomly initialised model at several batch
 * sizes, beside the memory-bandwidth limit of batch-1 decoding (the weight bytes one step reads
 * over the read bandwidth measured in the same run).
 */
@Command(name = "decode", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Decode throughput (tokens/s) at batch sizes 1, 8, 32 beside the memory-bandwidth limit.")
public final class BenchDecodeCommand implements Callable<Integer> {

    @Option(names = "--config", paramLabel = "<model.json>", description = "Model config (default configs/model/transformer-s.json).")
    Path config = Path.of("configs", "model", "transformer-s.json");

    @Option(names = "--method", paramLabel = "<method.json>", description = "FFN method config (default dense).")
    Path method;

    @Option(names = "--batch", split = ",", description = "Batch sizes (default 1,8,32).")
    int[] batches = {1, 8, 32};

    @Option(names = "--context", description = "Tokens already in the cache when timing starts (default 64).")
    int context = 64;

    @Option(names = "--steps", description = "Timed one-token steps per batch size (default 32).")
    int steps = 32;

    @Option(names = "--ffn-path", paramLabel = "auto|merged|structured", description = "Structured FFN form (default auto).")
    FfnPath path = FfnPath.AUTO;

    @Option(names = "--json", description = "One JSON object per batch size instead of a table.")
    boolean json;

    @Mixin
    BackendOptions backendOptions = new BackendOptions();

    @Override
    public Integer call() throws Exception {
        OptionRanges.atLeast("--context", context, 1);
        OptionRanges.atLeast("--steps", steps, 1);
        OptionRanges.atLeast("--batch", batches, 1);
        ModelConfig m = ModelConfig.read(config);
        MethodConfig f = method == null ? MethodConfig.DENSE : MethodConfig.read(method);
        // Speed does not depend on the values: skip the SVD/orthogonal post-init.
        MethodConfig fast = new MethodConfig(f.name(), f.rank(), f.nblocks(), PostInit.NONE, f.firstLayerDense());
        if (!json) System.out.println("initialising " + config.getFileName() + (method == null ? "" : " with " + method.getFileName()) + " ...");
        Gpt model = new Gpt(m, fast).init(1);
        double gbs = MemoryBandwidth.readGBs(1024);
        try (Backend backend = backendOptions.create()) {
            MergedWeights merged = new MergedWeights(model);
            MergePolicy policy = path == FfnPath.AUTO && !model.structuredFfnLinears().isEmpty()
                    ? MergeCalibration.measure(model, merged, backend, 64, null).policy(FfnPath.AUTO) : MergePolicy.fixed(path);
            if (!json) {
                System.out.printf(Locale.ROOT, "backend %s; read bandwidth %.1f GB/s (median of 7 passes over 1 GiB)%n",
                        backend.describe(), gbs);
                System.out.printf(Locale.ROOT, "%6s %14s %12s %14s %10s%n", "batch", "tokens/s", "ms/step", "weight MB/step",
                        "of limit");
            }
            for (int batch : batches) {
                KvCacheTensors cache = new KvCacheTensors(m, batch, context + steps + 4);
                DecodeGraph step = new DecodeGraph(model, cache, merged, policy, 1);
                backend.prepare(step.plan);
                Random r = new Random(batch);
                long bytes = weightBytes(step.plan, model, merged);
                // Warm up until the JIT has compiled every kernel's path (the Vector API runs hundreds of
                // times slower interpreted): at least 3 s, and until steps stop getting faster.
                int[] pos = {0};
                Timing.warmUp(() -> {
                    fill(step, r, m.vocabSize());
                    cache.pos.data[0] = pos[0]++ % (context + 1);
                    backend.run(step.plan);
                }, 3000, 30000);
                double[] ms = new double[steps];
                for (int i = 0; i < steps; i++) {
                    fill(step, r, m.vocabSize());
                    cache.pos.data[0] = context + i;
                    long t0 = System.nanoTime();
                    backend.run(step.plan);
                    backend.toHost(step.plan, step.logits);
                    ms[i] = (System.nanoTime() - t0) / 1e6;
                }
                java.util.Arrays.sort(ms);
                double median = ms[steps / 2];
                double tps = batch / (median / 1e3);
                double limit = gbs * 1e9 / bytes;
                if (json) {
                    ObjectNode n = new ObjectMapper().createObjectNode();
                    n.put("backend", backend.describe());
                    n.put("model", config.getFileName().toString());
                    n.put("method", fast.name().name().toLowerCase(Locale.ROOT));
                    n.put("batch", batch);
                    n.put("tokens_per_s", tps);
                    n.put("ms_per_step", median);
                    n.put("weight_bytes_per_step", bytes);
                    n.put("bandwidth_gbs", gbs);
                    n.put("batch1_limit_tokens_per_s", limit);
                    System.out.println(n);
                } else {
                    System.out.printf(Locale.ROOT, "%6d %14.1f %12.2f %14.1f %10s%n", batch, tps, median, bytes / 1e6,
                            batch == 1 ? String.format(Locale.ROOT, "%.0f%%", 100 * tps / limit) : "");
                }
                backend.release(step.plan);
            }
            if (!json) {
                System.out.println("limit: batch-1 tokens/s if every step only streamed its weights at the measured bandwidth");
            }
        }
        return 0;
    }

    private static void fill(DecodeGraph g, Random r, int vocab) {
        for (int i = 0; i < g.tokens.size(); i++) g.tokens.data[i] = r.nextInt(vocab);
    }

    /** Bytes of the weight tensors a plan reads (each counted once); the embedding lookup reads only rows. */
    static long weightBytes(Plan plan, Gpt model, MergedWeights merged) {
        Set<Tensor> weights = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Parameter p : model.parameters()) weights.add(p.value);
        for (var l : model.structuredFfnLinears()) weights.add(merged.of(l).value);
        Set<Tensor> read = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Plan.Section s : plan.sections()) {
            for (KernelCall c : s.calls()) {
                if (c instanceof KernelCall.EmbeddingForward) continue;
                collect(c, weights, read);
            }
        }
        long n = 0;
        for (Tensor t : read) n += 4L * t.size();
        return n;
    }

    private static void collect(Object call, Set<Tensor> weights, Set<Tensor> read) {
        for (RecordComponent rc : call.getClass().getRecordComponents()) {
            try {
                Object v = rc.getAccessor().invoke(call);
                if (v instanceof Tensor t && weights.contains(t)) read.add(t);
                if (v instanceof KernelCall inner) collect(inner, weights, read);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
