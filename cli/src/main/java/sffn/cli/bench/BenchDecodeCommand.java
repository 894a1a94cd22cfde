package sffn.cli.bench;

import sffn.cli.OptionRanges;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.reflect.RecordComponent;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import sffn.cli.BackendOptions;
import sffn.cli.KvCacheOption;
import sffn.decode.CompactWeights;
import sffn.decode.DecodeGraph;
import sffn.decode.FfnPath;
import sffn.decode.KvCacheTensors;
import sffn.decode.MergeCalibration;
import sffn.decode.MergePolicy;
import sffn.decode.MergedWeights;
import sffn.kernels.ByteTensor;
import sffn.kernels.CompactWeight;
import sffn.kernels.ShortTensor;
import sffn.kernels.Tensor;
import sffn.kernels.WeightFormat;
import sffn.kernels.backend.Backend;
import sffn.kernels.backend.CpuBackend;
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
 * sizes and weight formats, each beside its memory-bandwidth limit (the bytes one step reads,
 * in that format, over the read bandwidth measured between that configuration's own timed
 * steps).
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

    @Option(names = "--weights", split = ",", paramLabel = "fp32,bf16,int8",
            description = "Weight formats, each timed at every batch size and shown side by side (default fp32).")
    List<String> weights = List.of("fp32");

    @Mixin
    KvCacheOption kvCacheOption = new KvCacheOption();

    @Option(names = "--json", description = "One JSON object per weight format and batch size instead of a table.")
    boolean json;

    @Mixin
    BackendOptions backendOptions = new BackendOptions();

    private KvCacheTensors.Format cacheFormat = KvCacheTensors.Format.FP32;

    @Override
    public Integer call() throws Exception {
        backendOptions.applyThreads(); // --threads sizes the kernel pool before anything starts it
        OptionRanges.atLeast("--context", context, 1);
        OptionRanges.atLeast("--steps", steps, 1);
        OptionRanges.atLeast("--batch", batches, 1);
        ModelConfig m = ModelConfig.read(config);
        // Each timed step appends one position after the context (and the cache keeps 4 spare).
        long positions = (long) context + steps + 4;
        if (positions > m.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("--context " + context + " and --steps " + steps + " need "
                    + positions + " positions (context + steps + 4), but " + config + " allows "
                    + m.maxPositionEmbeddings() + " (max_position_embeddings); lower --steps or --context");
        }
        MethodConfig f = method == null ? MethodConfig.DENSE : MethodConfig.read(method);
        cacheFormat = kvCacheOption.resolve();
        List<WeightFormat> formats = new ArrayList<>();
        for (String w : weights) {
            WeightFormat wf = WeightFormat.parse(w);
            if (!formats.contains(wf)) formats.add(wf);
        }
        // Speed does not depend on the values: skip the SVD/orthogonal post-init.
        MethodConfig fast = new MethodConfig(f.name(), f.rank(), f.nblocks(), PostInit.NONE, f.firstLayerDense());
        if (!json) System.out.println("initialising " + config.getFileName() + (method == null ? "" : " with " + method.getFileName()) + " ...");
        Gpt model = new Gpt(m, fast).init(1);
        MemoryBandwidth probe = new MemoryBandwidth(1024);
        List<Row> rows = new ArrayList<>();
        try (Backend backend = backendOptions.create()) {
            MergedWeights merged = new MergedWeights(model);
            if (!json) {
                System.out.printf(Locale.ROOT, "backend %s; read bandwidth %.1f GB/s now (median of 7 passes over 1"
                        + " GiB; each row's limit takes a pass after each of its timed steps)%n", backend.describe(),
                        probe.median(7));
                System.out.printf(Locale.ROOT, "key/value cache %s: %.1f MB per sequence read per step (%d cached tokens,"
                        + " the middle timed step)%n", cacheFormat.label(), cacheBytesPerSequence(m) / 1e6, context + steps / 2 + 1);
            }
            for (WeightFormat wf : formats) {
                // Rounds the (random) weights to each format in turn: harmless for timing.
                CompactWeights cw = CompactWeights.of(model, wf, null).withMerged(merged, model);
                MergePolicy policy = path == FfnPath.AUTO && !model.structuredFfnLinears().isEmpty()
                        ? MergeCalibration.measure(model, merged, cw, backend, 64, null).policy(FfnPath.AUTO)
                        : MergePolicy.fixed(path);
                for (int batch : batches) {
                    if (!json) System.err.printf(Locale.ROOT, "  timing %s weights at batch %d ...%n", wf.label(), batch);
                    rows.add(time(model, merged, policy, cw, backend, batch, probe));
                }
            }
            if (json) {
                for (Row r : rows) {
                    ObjectNode n = new ObjectMapper().createObjectNode();
                    n.put("backend", backend.describe());
                    n.put("model", config.getFileName().toString());
                    n.put("method", fast.name().name().toLowerCase(Locale.ROOT));
                    n.put("weights", r.format.label());
                    n.put("kv_cache", cacheFormat.label());
                    n.put("kv_cache_bytes_per_sequence", cacheBytesPerSequence(m));
                    n.put("batch", r.batch);
                    n.put("tokens_per_s", r.tokensPerSecond);
                    n.put("ms_per_step", r.ms);
                    n.put("weight_bytes_per_step", r.bytes);
                    n.put("kv_cache_bytes_per_step", r.cacheBytes);
                    n.put("bandwidth_gbs", r.gbs);
                    n.put("limit_tokens_per_s", r.limit());
                    n.put("batch1_limit_tokens_per_s", r.gbs * 1e9 / (r.bytes + r.cacheBytes / r.batch));
                    System.out.println(n);
                }
                return 0;
            }
            System.out.printf(Locale.ROOT, "%6s %7s %12s %10s %14s %13s %10s %12s %9s %8s%n", "batch", "weights",
                    "tokens/s", "ms/step", "weight MB/step", "cache MB/step", "read GB/s", "limit tok/s", "of limit",
                    "vs fp32");
            for (int batch : batches) {
                Row fp32 = rows.stream().filter(r -> r.batch == batch && r.format == WeightFormat.FP32).findFirst().orElse(null);
                for (Row r : rows) {
                    if (r.batch != batch) continue;
                    System.out.printf(Locale.ROOT, "%6d %7s %12.1f %10.2f %14.1f %13.1f %10.1f %12.1f %8.0f%% %8s%n",
                            batch, r.format.label(), r.tokensPerSecond, r.ms, r.bytes / 1e6, r.cacheBytes / 1e6, r.gbs,
                            r.limit(), 100 * r.tokensPerSecond / r.limit(),
                            fp32 == null ? "" : String.format(Locale.ROOT, "%.2fx", r.tokensPerSecond / fp32.tokensPerSecond));
                }
            }
            System.out.println("limit: tokens/s if every step only streamed its own bytes (weights, int8 scales, and the"
                    + " key/value cache its sequences attend to) at the read bandwidth measured between its timed steps"
                    + " (median of one pass over 1 GiB after each)");
        }
        return 0;
    }

    /**
     * Bytes of keys and values one sequence's step reads in every layer at the middle timed step
     * (the median's), whose token attends to {@code context + steps / 2 + 1} positions.
     */
    private long cacheBytesPerSequence(ModelConfig m) {
        return 2L * m.numLayers() * m.numKvHeads() * m.headDim() * (context + steps / 2 + 1) * cacheFormat.bytes;
    }

    /** One timed configuration: its weight bytes and its sequences' cache bytes per step. */
    private record Row(WeightFormat format, int batch, double tokensPerSecond, double ms, long bytes, long cacheBytes, double gbs) {
        double limit() {
            return batch * gbs * 1e9 / (bytes + cacheBytes);
        }
    }

    private Row time(Gpt model, MergedWeights merged, MergePolicy policy, CompactWeights cw, Backend backend, int batch,
                     MemoryBandwidth probe) {
        ModelConfig m = model.config;
        KvCacheTensors cache = new KvCacheTensors(m, batch, context + steps + 4, cacheFormat);
        DecodeGraph step = new DecodeGraph(model, cache, merged, policy, cw, 1);
        backend.prepare(step.plan);
        Random r = new Random(batch);
        long bytes = weightBytes(step.plan, model, merged, cw);
        // Warm up until the JIT has compiled every kernel's path (the Vector API runs hundreds of
        // times slower interpreted): at least 3 s, and until steps stop getting faster. The warm-up
        // walks the cache positions the timed steps use: a position never seen before can send a
        // compiled kernel back to the interpreter (an untaken branch, a longer loop) in the timed
        // steps themselves.
        int[] pos = {0};
        if (backend instanceof CpuBackend cpu) cpu.recording(false); // -Dsffn.profile: the timed steps only
        Timing.warmUp(() -> {
            fill(step, r, m.vocabSize());
            cache.pos.data[0] = context + pos[0]++ % steps;
            backend.run(step.plan);
            backend.toHost(step.plan, step.logits);
        }, 3000, 30000);
        if (backend instanceof CpuBackend cpu) cpu.recording(true);
        // A bandwidth pass after each timed step: the limit is then measured in the same minutes as
        // the steps. The pass evicts the caches, as the limit assumes (every byte from memory).
        double[] ms = new double[steps];
        double[] gbs = new double[steps];
        for (int i = 0; i < steps; i++) {
            fill(step, r, m.vocabSize());
            cache.pos.data[0] = context + i;
            long t0 = System.nanoTime();
            backend.run(step.plan);
            backend.toHost(step.plan, step.logits);
            ms[i] = (System.nanoTime() - t0) / 1e6;
            gbs[i] = probe.pass();
        }
        java.util.Arrays.sort(ms);
        java.util.Arrays.sort(gbs);
        double median = ms[steps / 2];
        backend.release(step.plan);
        return new Row(cw.format(), batch, batch / (median / 1e3), median, bytes, batch * cacheBytesPerSequence(m),
                gbs[steps / 2]);
    }

    private static void fill(DecodeGraph g, Random r, int vocab) {
        for (int i = 0; i < g.tokens.size(); i++) g.tokens.data[i] = r.nextInt(vocab);
    }

    /**
     * Bytes of the weights a plan reads, each counted once: float32 weights, compact ones and
     * their int8 scales. The embedding lookup reads only rows and is left out.
     */
    static long weightBytes(Plan plan, Gpt model, MergedWeights merged, CompactWeights cw) {
        Set<Object> weights = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Parameter p : model.parameters()) weights.add(p.value);
        for (var l : model.structuredFfnLinears()) weights.add(merged.of(l).value);
        for (CompactWeight c : cw.all()) {
            switch (c) {
                case CompactWeight.Bf16Weight b -> weights.add(b.bits());
                case CompactWeight.Int8Weight q -> {
                    weights.add(q.q());
                    weights.add(q.scale());
                }
                default -> { }
            }
        }
        Set<Object> read = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Plan.Section s : plan.sections()) {
            for (KernelCall c : s.calls()) {
                if (c instanceof KernelCall.EmbeddingForward) continue;
                collect(c, weights, read);
            }
        }
        long n = 0;
        for (Object t : read) {
            n += switch (t) {
                case Tensor f -> 4L * f.size();
                case ShortTensor b -> 2L * b.size();
                case ByteTensor q -> q.size();
                default -> 0L;
            };
        }
        return n;
    }

    private static void collect(Object call, Set<Object> weights, Set<Object> read) {
        for (RecordComponent rc : call.getClass().getRecordComponents()) {
            try {
                Object v = rc.getAccessor().invoke(call);
                // Weights only: not the key/value cache, whatever its format.
                if ((v instanceof Tensor || v instanceof ShortTensor || v instanceof ByteTensor) && weights.contains(v)) read.add(v);
                if (v instanceof KernelCall inner) collect(inner, weights, read);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
