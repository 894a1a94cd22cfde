package sffn.train.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import sffn.kernels.Tensor;
import sffn.kernels.backend.CpuBackend;
import sffn.nn.Gpt;
import sffn.nn.Parameter;
import sffn.nn.TrainingGraph;
import sffn.nn.config.Activation;
import sffn.nn.config.FfnType;
import sffn.nn.config.MethodConfig;
import sffn.nn.config.ModelConfig;
import sffn.nn.config.Norm;
import sffn.nn.config.PositionEmbedding;
import sffn.nn.config.PostInit;

/**
 * The gradient exchange against a stand-in for a second rank that holds the same gradients
 * (so every sum is exactly twice the value): layout, bucket timing and the ZeRO-1 shards.
 */
class GradientExchangeTest {
    static final ModelConfig MODEL = new ModelConfig(32, 32, 64, 4, 2, 3, 32, 24, true, Norm.LAYERNORM, Activation.GELU,
            false, PositionEmbedding.ROPE, 10000, 0.02);

    /** Rank {@code rank} of two whose partner holds identical buffers; logs what it is asked to do. */
    static class Twin implements Collective {
        final int rank;
        final List<String> log = new ArrayList<>();

        Twin(int rank) {
            this.rank = rank;
        }

        public int rank() {
            return rank;
        }

        public int size() {
            return 2;
        }

        public String describe() {
            return "twin";
        }

        public void allReduceSum(MemorySegment buf, long offset, int count) {
            for (long i = offset; i < offset + count; i++) {
                buf.setAtIndex(ValueLayout.JAVA_FLOAT, i, 2 * buf.getAtIndex(ValueLayout.JAVA_FLOAT, i));
            }
        }

        public Request allReduceSumAsync(MemorySegment buf, long offset, int count) {
            log.add("launch " + offset + "+" + count);
            return new Request() {
                boolean done;

                public boolean test() {
                    return done;
                }

                public void await() {
                    if (!done) allReduceSum(buf, offset, count);
                    done = true;
                }
            };
        }

        public void reduceScatterSum(MemorySegment buf, int[] counts) {
            long from = rank == 0 ? 0 : counts[0];
            allReduceSum(buf, from, counts[rank]);
        }

        public void allGather(MemorySegment buf, int[] counts) {
            log.add("allgather " + counts[0] + "," + counts[1]);
        }

        public void broadcast(MemorySegment buf, long bytes, int root) {
        }

        public void barrier() {
        }

        public double allReduceSum(double value) {
            return 2 * value;
        }

        public long[] allGather(long value) {
            return new long[] {value, value};
        }

        public void abort(int code) {
            throw new IllegalStateException("abort " + code);
        }

        public void close() {
        }
    }

    static Gpt model() {
        return new Gpt(MODEL, new MethodConfig(FfnType.LOWRANK, 8, 0, PostInit.SVD, false)).init(5);
    }

    static void randomGrads(List<Parameter> params, long seed) {
        Random r = new Random(seed);
        for (Parameter p : params) {
            float[] g = p.grad().data;
            for (int i = 0; i < g.length; i++) g[i] = (float) r.nextGaussian();
        }
    }

    @Test
    void bucketsStartAsSoonAsBackwardHasFinishedTheirGradientsAndSumsComeBack() {
        Gpt model = model();
        TrainingGraph graph = new TrainingGraph(model, 2, 8);
        Twin twin = new Twin(0);
        try (CpuBackend backend = new CpuBackend();
             GradientExchange ex = new GradientExchange(twin, backend, graph.plan, model.parameters(), 4096)) {
            Map<Tensor, Integer> last = GradientExchange.lastSectionTouching(graph.plan);
            List<Parameter> order = ex.order();
            assertEquals(new HashSet<>(model.parameters()), new HashSet<>(order), "every parameter has a place");
            for (int i = 1; i < order.size(); i++) {
                assertTrue(last.get(order.get(i - 1).grad()) <= last.get(order.get(i).grad()), "buffer in backward order");
            }
            assertSame(model.parameters().getFirst(), order.getLast(), "the (tied) embedding's gradient is finished last");
            assertTrue(ex.buckets() > 2, "a 4 KB bucket holds a few small tensors: " + ex.buckets());

            randomGrads(model.parameters(), 1);
            List<float[]> before = model.parameters().stream().map(p -> p.grad().data.clone()).toList();
            int sections = graph.plan.sections().size();
            List<Integer> launchedAfter = new ArrayList<>();
            for (int s = 0; s < sections; s++) {
                int n = twin.log.size();
                ex.sectionDone(s);
                for (int k = n; k < twin.log.size(); k++) launchedAfter.add(s);
            }
            assertEquals(ex.buckets(), launchedAfter.size(), "every bucket starts once backward is through: " + twin.log);
            assertTrue(launchedAfter.getFirst() < sections - 1, "the first bucket starts while backward still runs");
            ex.finish();
            for (int p = 0; p < before.size(); p++) {
                float[] g = model.parameters().get(p).grad().data;
                for (int i = 0; i < g.length; i++) assertEquals(2 * before.get(p)[i], g[i], 0f);
            }
            double[] seconds = ex.takeSeconds();
            assertTrue(seconds[0] >= 0 && seconds[1] > 0);
        }
    }

    @Test
    void zeroOneShardsCoverTheModelOnceAndEachRankSumsOnlyItsOwn() {
        List<String> owners = new ArrayList<>();
        long elements = 0;
        for (int rank = 0; rank < 2; rank++) {
            Gpt model = model();
            TrainingGraph graph = new TrainingGraph(model, 2, 8);
            try (CpuBackend backend = new CpuBackend();
                 GradientExchange ex = new GradientExchange(new Twin(rank), backend, graph.plan, model.parameters(), 1 << 20)) {
                randomGrads(model.parameters(), 2);
                List<float[]> before = model.parameters().stream().map(p -> p.grad().data.clone()).toList();
                ex.reduceScatter();
                List<Parameter> owned = ex.owned();
                assertTrue(!owned.isEmpty(), "rank " + rank + " owns a shard");
                for (int p = 0; p < before.size(); p++) {
                    Parameter param = model.parameters().get(p);
                    float factor = owned.contains(param) ? 2 : 1;
                    for (int i = 0; i < param.size(); i++) assertEquals(factor * before.get(p)[i], param.grad().data[i], 0f);
                }
                double squares = 0;
                for (Parameter p : owned) for (float g : p.grad().data) squares += (double) g * g;
                assertEquals(squares, ex.ownedGradSquares(), 1e-9 * squares);
                for (Parameter p : owned) {
                    owners.add(p.name);
                    elements += p.size();
                }
            }
        }
        List<Parameter> all = model().parameters();
        assertEquals(all.stream().mapToLong(Parameter::size).sum(), elements, "the two shards hold every element once");
        assertEquals(new HashSet<>(all.stream().map(p -> p.name).toList()), new HashSet<>(owners));
        assertEquals(all.size(), owners.size(), "and no parameter twice");
    }

    @Test
    void replicaChecksStopOnAnyDifference() {
        Gpt model = model();
        ReplicaChecks.sameWeights(new Twin(0), model.parameters(), 3);
        Collective odd = new Twin(0) {
            @Override
            public long[] allGather(long value) {
                return new long[] {value, value ^ 1};
            }
        };
        ReplicaChecks.ReplicaMismatch e = assertThrows(ReplicaChecks.ReplicaMismatch.class,
                () -> ReplicaChecks.sameWeights(odd, model.parameters(), 3));
        assertTrue(e.getMessage().contains("replicas diverged after step 3: the weights of rank(s) [1] differ"), e.getMessage());
        ReplicaChecks.ReplicaMismatch c = assertThrows(ReplicaChecks.ReplicaMismatch.class,
                () -> ReplicaChecks.sameConfig(odd, "{\"lr\":1}"));
        assertTrue(c.getMessage().contains("rank(s) [1] were started with a different configuration than rank 0"), c.getMessage());
    }
}
