package sffn.decode;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.function.Consumer;
import sffn.kernels.Tensor;
import sffn.kernels.WeightFormat;
import sffn.kernels.backend.Backend;
import sffn.kernels.backend.Timing;
import sffn.kernels.plan.KernelCall.MatmulForward;
import sffn.kernels.plan.Plan;
import sffn.nn.Buffers;
import sffn.nn.Gpt;
import sffn.nn.layers.LinearLayer;

/**
 * Measures, on the backend at hand, where each structured FFN shape starts to beat its
 * pre-merged dense matrix: forward latency of both forms at 1, 2, 4, ... tokens, per layer, over
 * all the layers of that shape (so their weights stream from memory as in decoding). The crossover
 * of a shape is the measured token count from which on the structured form is used, chosen to
 * lose the least time over the measured counts ({@link #crossover}). Results are cached as JSON
 * beside the checkpoint and reused while the backend description matches.
 */
public final class MergeCalibration {
    public static final String FILE = "merge-calibration.json";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** Median forward times of one linear shape at one token count. */
    public record Point(String shape, int tokens, double structuredMs, double mergedMs) {
    }

    public record Table(String backend, Map<String, Integer> crossovers, List<Point> points) {
        public MergePolicy policy(FfnPath path) {
            return new MergePolicy(path, crossovers);
        }
    }

    /** The cache file of a weight format: {@link #FILE} for float32, {@code merge-calibration-<format>.json} otherwise. */
    public static String fileName(WeightFormat format) {
        return format == WeightFormat.FP32 ? FILE : "merge-calibration-" + format.label() + ".json";
    }

    private MergeCalibration() {
    }

    /** Token counts 1, 2, 4, ... up to {@code maxTokens}. */
    public static int[] tokenCounts(int maxTokens) {
        List<Integer> t = new ArrayList<>();
        for (int n = 1; n <= maxTokens; n *= 2) t.add(n);
        return t.stream().mapToInt(Integer::intValue).toArray();
    }

    public static Table measure(Gpt model, MergedWeights merged, Backend backend, int maxTokens, Consumer<String> progress) {
        return measure(model, merged, CompactWeights.none(), backend, maxTokens, progress);
    }

    /** The crossovers with both forms reading {@code weights} (the merged matrices compressed too). */
    public static Table measure(Gpt model, MergedWeights merged, CompactWeights weights, Backend backend, int maxTokens,
                                Consumer<String> progress) {
        Map<String, List<LinearLayer>> shapes = new LinkedHashMap<>();
        for (LinearLayer l : model.structuredFfnLinears()) {
            shapes.computeIfAbsent(MergePolicy.shapeKey(l), k -> new ArrayList<>()).add(l);
        }
        List<Point> points = new ArrayList<>();
        Map<String, Integer> crossovers = new LinkedHashMap<>();
        for (Map.Entry<String, List<LinearLayer>> e : shapes.entrySet()) {
            List<LinearLayer> layers = e.getValue();
            List<Point> mine = new ArrayList<>();
            warmUp(layers, merged, weights, backend, maxTokens);
            for (int tokens : tokenCounts(maxTokens)) {
                Buffers buf = new Buffers();
                Plan structured = new Plan("calibrate structured");
                Plan dense = new Plan("calibrate merged");
                forwards(layers, merged, buf, tokens, structured, dense);
                double[] t = timeBoth(backend, weights.rewrite(structured), weights.rewrite(dense));
                double ms = t[0] / layers.size();
                double mm = t[1] / layers.size();
                Point p = new Point(e.getKey(), tokens, ms, mm);
                mine.add(p);
                if (progress != null) {
                    progress.accept(String.format(java.util.Locale.ROOT, "  %-26s %5d tokens: structured %8.3f ms, merged %8.3f ms",
                            e.getKey(), tokens, ms, mm));
                }
            }
            points.addAll(mine);
            crossovers.put(e.getKey(), crossover(mine));
        }
        return new Table(backend.describe(), crossovers, points);
    }

    /**
     * Adds one forward of every layer of a shape to each plan, in both forms, on one random input.
     * Every layer of the shape takes part, as in a decode step, so the weights come from memory
     * as they do there: timed one layer at a time, a layer's weights would stay in the caches and
     * favour the larger merged matrix.
     */
    private static void forwards(List<LinearLayer> layers, MergedWeights merged, Buffers buf, int tokens,
                                 Plan structured, Plan dense) {
        int in = layers.get(0).structure().in();
        int out = layers.get(0).structure().out();
        Tensor x = buf.get("calib.x", tokens, in);
        Random rng = new Random(tokens);
        for (int i = 0; i < x.size(); i++) x.data[i] = (float) rng.nextGaussian();
        Tensor y = buf.get("calib.y", tokens, out);
        for (LinearLayer layer : layers) {
            layer.structure().forward(structured, buf, x, y, tokens);
            dense.add(new MatmulForward(x, merged.of(layer).value, null, y, tokens, out, in, false));
        }
    }

    /**
     * The threshold (merged below it, structured from it on; MAX_VALUE: always merged) whose
     * choices lose the least time over the measured counts, each point's loss relative to its
     * faster form; ties go to the smaller threshold. One threshold cannot follow the winner when
     * it flips back: on a CPU the structured form wins at a few tokens (a third of the bytes) and
     * can lose by a little at 32-64, where its thin products run less efficiently. Asking the
     * structured form to win at every larger count, as this rule did before, then decoded every
     * token merged (LowRank-32% in bf16 streamed 184 MB a step instead of 148).
     */
    public static int crossover(List<Point> points) {
        int best = Integer.MAX_VALUE;
        double bestLoss = loss(points, Integer.MAX_VALUE);
        for (int i = points.size() - 1; i >= 0; i--) {
            int c = points.get(i).tokens();
            double l = loss(points, c);
            if (l <= bestLoss) {
                best = c;
                bestLoss = l;
            }
        }
        return best;
    }

    /** Sum over the points of (time of the form threshold c picks) / (time of the faster form) - 1. */
    private static double loss(List<Point> points, int c) {
        double l = 0;
        for (Point p : points) {
            double chosen = p.tokens() < c ? p.mergedMs() : p.structuredMs();
            l += chosen / Math.min(p.structuredMs(), p.mergedMs()) - 1;
        }
        return l;
    }

    /**
     * Runs both forms at the largest token count and at one token, for at least a second and
     * until their time settles, so that the kernels are compiled before the small counts are
     * timed (timed cold, they would favour whichever form was measured later).
     */
    private static void warmUp(List<LinearLayer> layers, MergedWeights merged, CompactWeights weights, Backend backend,
                               int tokens) {
        Plan w = new Plan("warm up");
        forwards(layers, merged, new Buffers(), tokens, w, w);
        forwards(layers, merged, new Buffers(), 1, w, w);
        Plan p = weights.rewrite(w);
        backend.prepare(p);
        Timing.warmUp(() -> backend.run(p), 1000, 4000);
        backend.release(p);
    }

    /** Timing rounds per form in {@link #timeBoth}. */
    private static final int ROUNDS = 3;

    /**
     * Milliseconds of both plans: {@link #ROUNDS} alternating rounds of a median each, the
     * fastest round per plan. Timed one after the other, a stretch of slower machine (a shared
     * VM's neighbours, clock changes) can fall on one form only. (On this project's 2-core VM one
     * of three runs of {@code bench decode} chose the merged matrices at one token for one FFN
     * shape of LowRank-32% in int8: 103.6 against 83.5 MB a step.)
     */
    static double[] timeBoth(Backend backend, Plan first, Plan second) {
        backend.prepare(first);
        backend.prepare(second);
        double a = Double.MAX_VALUE;
        double b = Double.MAX_VALUE;
        for (int r = 0; r < ROUNDS; r++) {
            a = Math.min(a, Timing.medianMillis(backend, first, 60.0 / ROUNDS));
            b = Math.min(b, Timing.medianMillis(backend, second, 60.0 / ROUNDS));
        }
        backend.release(first);
        backend.release(second);
        return new double[] {a, b};
    }

    public static void save(Path file, Table t) throws IOException {
        ObjectNode n = JSON.createObjectNode();
        n.put("backend", t.backend());
        ObjectNode c = n.putObject("crossovers");
        t.crossovers().forEach((k, v) -> c.put(k, v == Integer.MAX_VALUE ? -1 : v));
        ArrayNode pts = n.putArray("points");
        for (Point p : t.points()) {
            ObjectNode o = pts.addObject();
            o.put("shape", p.shape());
            o.put("tokens", p.tokens());
            o.put("structured_ms", p.structuredMs());
            o.put("merged_ms", p.mergedMs());
        }
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, JSON.writeValueAsString(n) + "\n");
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /** The cached table, if present, readable, for this backend and covering these shapes. */
    public static Optional<Table> load(Path file, String backend, Gpt model) {
        if (!Files.isRegularFile(file)) return Optional.empty();
        try {
            JsonNode n = JSON.readTree(file.toFile());
            if (!backend.equals(n.path("backend").asText())) return Optional.empty();
            Map<String, Integer> c = new LinkedHashMap<>();
            n.path("crossovers").fields().forEachRemaining(f -> c.put(f.getKey(),
                    f.getValue().asInt() < 0 ? Integer.MAX_VALUE : f.getValue().asInt()));
            for (LinearLayer l : model.structuredFfnLinears()) {
                if (!c.containsKey(MergePolicy.shapeKey(l))) return Optional.empty();
            }
            List<Point> pts = new ArrayList<>();
            for (JsonNode p : n.path("points")) {
                pts.add(new Point(p.path("shape").asText(), p.path("tokens").asInt(), p.path("structured_ms").asDouble(),
                        p.path("merged_ms").asDouble()));
            }
            return Optional.of(new Table(backend, c, pts));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /**
     * The policy for decoding a checkpoint: measured once per backend and cached in the
     * checkpoint directory (when it is writable).
     */
    public static MergePolicy policyFor(Path checkpoint, Gpt model, MergedWeights merged, Backend backend, FfnPath path,
                                        int maxTokens, Consumer<String> progress) {
        return policyFor(checkpoint, model, merged, CompactWeights.none(), backend, path, maxTokens, progress);
    }

    /** As above for decoding with {@code weights}: each weight format has its own crossovers, and its own file. */
    public static MergePolicy policyFor(Path checkpoint, Gpt model, MergedWeights merged, CompactWeights weights,
                                        Backend backend, FfnPath path, int maxTokens, Consumer<String> progress) {
        if (path != FfnPath.AUTO || model.structuredFfnLinears().isEmpty()) return MergePolicy.fixed(path);
        Path file = checkpoint.resolve(fileName(weights.format()));
        Optional<Table> cached = load(file, backend.describe(), model);
        if (cached.isPresent()) return cached.get().policy(path);
        if (progress != null) {
            progress.accept("calibrating the pre-merge crossover for " + backend.describe() + " with " + weights.format().label()
                    + " weights (once per checkpoint)");
        }
        Table t = measure(model, merged, weights, backend, maxTokens, null);
        try {
            save(file, t);
        } catch (IOException e) {
            if (progress != null) progress.accept("note: could not cache the calibration in " + file + " (" + e.getMessage() + ")");
        }
        return t.policy(path);
    }
}
