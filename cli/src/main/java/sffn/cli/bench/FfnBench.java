package sffn.cli.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import sffn.decode.FfnPath;
import sffn.decode.MergeCalibration;
import sffn.decode.MergePolicy;
import sffn.kernels.Tensor;
import sffn.kernels.backend.Backend;
import sffn.kernels.backend.Timing;
import sffn.kernels.plan.KernelCall.GeluForward;
import sffn.kernels.plan.Plan;
import sffn.nn.Buffers;
import sffn.nn.Parameter;
import sffn.nn.config.FfnType;
import sffn.nn.config.MethodConfig;
import sffn.nn.config.PostInit;
import sffn.nn.layers.BlockDenseLinear;
import sffn.nn.layers.BlockShuffleLinear;
import sffn.nn.layers.DenseLinear;
import sffn.nn.layers.Linear;
import sffn.nn.layers.LinearLayer;
import sffn.nn.layers.LowRankLinear;
import sffn.nn.ModelStats;

/**
 * Latency of one FFN forward, {@code y = fc2(gelu(fc1(x)))} with FFN width 4 x model width, for
 * dense and the three structures at the paper's 63% and 32% parameter points. The merged form
 * of a structured FFN is a dense FFN of the same shape; it is measured as its own plan.
 */
final class FfnBench {

    /** One structure at one parameter point. */
    record Variant(FfnType type, String point, int rank, int nblocks) {
        String method() {
            return type == FfnType.LINEAR ? "dense" : type.name().toLowerCase(Locale.ROOT);
        }

        MethodConfig config() {
            return new MethodConfig(type, rank, nblocks, PostInit.NONE, false);
        }

        /** FFN parameters over the dense FFN's. */
        double paramsRatio(int width) {
            MethodConfig m = config();
            long p = ModelStats.linearParams(type, m, width, 4 * width) + ModelStats.linearParams(type, m, 4 * width, width);
            return p / (8.0 * width * width);
        }

        Linear make(String prefix, int in, int out) {
            return switch (type) {
                case LINEAR -> new DenseLinear(prefix, in, out);
                case LOWRANK -> new LowRankLinear(prefix, in, out, rank, PostInit.NONE);
                case BLOCKDENSE -> new BlockDenseLinear(prefix, in, out, rank, nblocks, PostInit.NONE);
                case BLOCKSHUFFLE -> new BlockShuffleLinear(prefix, in, out, nblocks, PostInit.NONE);
            };
        }
    }

    /** One measurement. */
    record Row(String backend, String method, String point, double paramsRatio, int width, int tokens, String path,
               double ms) {
    }

    static List<Variant> variants(int width, boolean only32) {
        List<Variant> v = new ArrayList<>();
        v.add(new Variant(FfnType.LINEAR, "100", 0, 0));
        if (!only32) {
            v.add(new Variant(FfnType.LOWRANK, "63", width / 2, 0));
            v.add(new Variant(FfnType.BLOCKDENSE, "63", 3 * width / 4, 4));
            v.add(new Variant(FfnType.BLOCKSHUFFLE, "63", 0, 2));
        }
        v.add(new Variant(FfnType.LOWRANK, "32", width / 4, 0));
        v.add(new Variant(FfnType.BLOCKDENSE, "32", 3 * width / 8, 4));
        v.add(new Variant(FfnType.BLOCKSHUFFLE, "32", 0, 4));
        return v;
    }

    /** An FFN of one variant with random weights, and its plan for a token count and path. */
    static final class Ffn {
        final Variant variant;
        final int width;
        final LinearLayer fc1;
        final LinearLayer fc2;
        final LinearLayer merged1;
        final LinearLayer merged2;

        Ffn(Variant variant, int width) {
            this.variant = variant;
            this.width = width;
            fc1 = new LinearLayer("fc1", variant.make("fc1", width, 4 * width), false);
            fc2 = new LinearLayer("fc2", variant.make("fc2", 4 * width, width), false);
            fill(fc1.parameters(), 1);
            fill(fc2.parameters(), 2);
            if (variant.type() == FfnType.LINEAR) {
                merged1 = fc1;
                merged2 = fc2;
            } else {
                merged1 = new LinearLayer("fc1.merged", new DenseLinear("fc1.merged", width, 4 * width), false);
                merged2 = new LinearLayer("fc2.merged", new DenseLinear("fc2.merged", 4 * width, width), false);
                fill(merged1.parameters(), 3);
                fill(merged2.parameters(), 4);
            }
        }

        private static void fill(List<Parameter> ps, long seed) {
            Random r = new Random(seed);
            for (Parameter p : ps) for (int i = 0; i < p.size(); i++) p.value.data[i] = (float) (0.02 * r.nextGaussian());
        }

        Plan plan(int tokens, boolean merged1On, boolean merged2On, Tensor scalars) {
            Buffers b = new Buffers();
            Tensor x = b.get("x", tokens, width);
            Random r = new Random(tokens);
            for (int i = 0; i < x.size(); i++) x.data[i] = (float) r.nextGaussian();
            Tensor h = b.get("h", tokens, 4 * width);
            Tensor a = b.get("a", tokens, 4 * width);
            Tensor y = b.get("y", tokens, width);
            Plan p = new Plan("ffn " + variant.method() + " " + width + " x" + tokens);
            (merged1On ? merged1 : fc1).forward(p, b, scalars, x, h, tokens);
            p.add(new GeluForward(h, a, tokens * 4 * width));
            (merged2On ? merged2 : fc2).forward(p, b, scalars, a, y, tokens);
            return p;
        }
    }

    static double time(Backend backend, Plan plan, double budgetMillis) {
        backend.prepare(plan);
        double ms = Timing.medianMillis(backend, plan, budgetMillis);
        backend.release(plan);
        return ms;
    }

    /** Latency vs width at a fixed token count (the paper's Figure 4a). */
    static List<Row> byWidth(Backend backend, int[] widths, int tokens, double budget, Consumer<Row> sink) {
        List<Row> rows = new ArrayList<>();
        Tensor scalars = new Tensor("scalars", 16);
        for (int w : widths) {
            for (Variant v : variants(w, false)) {
                Ffn f = new Ffn(v, w);
                double ms = time(backend, f.plan(tokens, false, false, scalars), budget);
                Row row = new Row(backend.describe(), v.method(), v.point(), v.paramsRatio(w), w, tokens,
                        v.type() == FfnType.LINEAR ? "dense" : "structured", ms);
                rows.add(row);
                sink.accept(row);
            }
        }
        return rows;
    }

    /**
     * Latency vs token count at the 32% point: structured, merged, and auto (the runtime's choice
     * by the crossover measured first, exactly as decoding calibrates it).
     */
    static List<Row> byTokens(Backend backend, int[] widths, int[] tokenCounts, double budget, Consumer<Row> sink,
                              Consumer<String> note) {
        List<Row> rows = new ArrayList<>();
        Tensor scalars = new Tensor("scalars", 16);
        for (int w : widths) {
            for (Variant v : variants(w, true)) {
                Ffn f = new Ffn(v, w);
                List<String> paths = v.type() == FfnType.LINEAR ? List.of("dense") : List.of("structured", "merged", "auto");
                double[][] measured = new double[2][tokenCounts.length];
                for (int ti = 0; ti < tokenCounts.length; ti++) {
                    int t = tokenCounts[ti];
                    if (v.type() == FfnType.LINEAR) {
                        measured[0][ti] = time(backend, f.plan(t, false, false, scalars), budget);
                    } else {
                        measured[0][ti] = time(backend, f.plan(t, false, false, scalars), budget);
                        measured[1][ti] = time(backend, f.plan(t, true, true, scalars), budget);
                    }
                }
                MergePolicy policy = v.type() == FfnType.LINEAR ? MergePolicy.fixed(FfnPath.STRUCTURED)
                        : new MergePolicy(FfnPath.AUTO, Map.of(MergePolicy.shapeKey(f.fc1), crossover(tokenCounts, measured),
                        MergePolicy.shapeKey(f.fc2), crossover(tokenCounts, measured)));
                if (v.type() != FfnType.LINEAR) {
                    int c = crossover(tokenCounts, measured);
                    note.accept(String.format(Locale.ROOT, "  %s-%s at width %d: structured from %s tokens on", v.method(), v.point(),
                            w, c == Integer.MAX_VALUE ? "never" : Integer.toString(c)));
                }
                for (int ti = 0; ti < tokenCounts.length; ti++) {
                    int t = tokenCounts[ti];
                    for (String path : paths) {
                        double ms = switch (path) {
                            case "dense", "structured" -> measured[0][ti];
                            case "merged" -> measured[1][ti];
                            default -> {
                                boolean m1 = policy.useMerged(f.fc1, t);
                                boolean m2 = policy.useMerged(f.fc2, t);
                                yield time(backend, f.plan(t, m1, m2, scalars), budget);
                            }
                        };
                        Row row = new Row(backend.describe(), v.method(), v.point(), v.paramsRatio(w), w, t, path, ms);
                        rows.add(row);
                        sink.accept(row);
                    }
                }
            }
        }
        return rows;
    }

    /** The crossover decoding's calibration would pick from these times ({@link MergeCalibration#crossover}). */
    static int crossover(int[] tokens, double[][] measured) {
        List<MergeCalibration.Point> points = new ArrayList<>();
        for (int i = 0; i < tokens.length; i++) points.add(new MergeCalibration.Point("", tokens[i], measured[0][i], measured[1][i]));
        return MergeCalibration.crossover(points);
    }
}
