package sffn.nn;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import sffn.kernels.StepScalars;
import sffn.kernels.backend.Backend;
import sffn.kernels.backend.Backends;
import sffn.nn.config.Activation;
import sffn.nn.config.FfnType;
import sffn.nn.config.MethodConfig;
import sffn.nn.config.ModelConfig;
import sffn.nn.config.Norm;
import sffn.nn.config.PositionEmbedding;
import sffn.nn.config.PostInit;
import sffn.nn.layers.LinearLayer;

/**
 * A whole training micro-step (forward, loss, backward into every parameter gradient) of small
 * models on the TornadoVM backend against the CPU backend, across FFN types (dense, LowRank,
 * BlockDense, BlockShuffle; self-guided with one guide switched off), norms, activations,
 * position embeddings, GQA, bias and untied heads. Sizes are awkward (not multiples of 16 or of
 * the work-group shapes). All models' plans go to one backend, so they compile once.
 */
class TornadoTrainingStepTest {
    /** Both backends compute in float32 with different summation orders; measured ~1e-7 on the loss. */
    static final double LOSS_TOLERANCE = 1e-5;
    /**
     * Per gradient tensor, max |tornado - cpu| over max |cpu|: the WholeModelGradientTest bound for
     * float32 against float64 (1e-4), so two float32 backends within it each are comparable.
     */
    static final double GRAD_TOLERANCE = 1e-4;

    record Case(String label, Norm ln, Activation act, PositionEmbedding pos, int nkv, boolean bias, boolean tied,
                MethodConfig method, boolean guided) {
    }

    static List<Case> cases() {
        MethodConfig dense = new MethodConfig(FfnType.LINEAR, 0, 0, PostInit.NONE, true);
        MethodConfig lowrank = new MethodConfig(FfnType.LOWRANK, 10, 0, PostInit.SVD, true);
        MethodConfig blockdense = new MethodConfig(FfnType.BLOCKDENSE, 12, 2, PostInit.ORTHO, false);
        MethodConfig shuffle = new MethodConfig(FfnType.BLOCKSHUFFLE, 0, 2, PostInit.ORTHO, false);
        return List.of(
                new Case("dense layernorm gelu rope", Norm.LAYERNORM, Activation.GELU, PositionEmbedding.ROPE, 4, false, true, dense, false),
                new Case("lowrank guided rmsnorm swiglu absolute gqa bias untied", Norm.RMSNORM, Activation.SWIGLU,
                        PositionEmbedding.ABSOLUTE, 2, true, false, lowrank, true),
                new Case("blockdense layernorm swiglu rope gqa bias", Norm.LAYERNORM, Activation.SWIGLU, PositionEmbedding.ROPE, 2, true, true,
                        blockdense, false),
                new Case("blockshuffle guided rmsnorm gelu absolute", Norm.RMSNORM, Activation.GELU, PositionEmbedding.ABSOLUTE, 4, false, true,
                        shuffle, true));
    }

    /** A model, its training graph and its inputs, built the same way for either backend. */
    static final class Side {
        final Gpt model;
        final TrainingGraph graph;

        Side(Case k) {
            // hidden 40, 4 q heads of 12, ffn 60 (swiglu: fc1 120), 2 layers, vocab 37; batch 2 x 13 tokens.
            ModelConfig cfg = new ModelConfig(40, 48, 60, 4, k.nkv(), 2, 16, 37, k.tied(), k.ln(), k.act(), k.bias(),
                    k.pos(), 10000, 0.02);
            model = new Gpt(cfg, k.method()).init(7);
            if (k.guided()) model.addGuides();
            Random rng = new Random(11);
            for (Parameter p : model.parameters()) {
                for (int i = 0; i < p.size(); i++) p.value.data[i] += (float) (0.3 * rng.nextGaussian());
            }
            graph = new TrainingGraph(model, 2, 13);
            int rows = 2 * 13;
            for (int i = 0; i < rows; i++) {
                graph.tokens.data[i] = rng.nextInt(cfg.vocabSize());
                graph.targets.data[i] = rng.nextInt(cfg.vocabSize());
            }
            graph.targets.data[3] = -1;
            float[] s = model.scalars().data;
            s[StepScalars.LOSS_SCALE] = 1f / (rows - 1);
            s[StepScalars.GUIDE_ALPHA] = 0.35f;
            if (k.guided()) {
                LinearLayer first = model.structuredFfnLinears().get(0);
                s[first.switchSlot()] = 0f; // the device runs this guide's branch anyway; the blend must ignore it
            }
        }
    }

    @BeforeEach
    void tornado() {
        String why = Backends.tornadoUnavailableReason();
        Assumptions.assumeTrue(why == null, () -> why + " (TornadoVM tests run with scripts/test-tornado)");
    }

    /** Max |got - ref| over max |ref|; NaN if either holds a NaN. */
    static double relativeError(float[] got, float[] ref) {
        double err = 0;
        double norm = 0;
        for (int i = 0; i < ref.length; i++) {
            if (Float.isNaN(got[i]) || Float.isNaN(ref[i])) return Double.NaN;
            err = Math.max(err, Math.abs((double) got[i] - ref[i]));
            norm = Math.max(norm, Math.abs((double) ref[i]));
        }
        return norm == 0 ? err : err / norm;
    }

    @Test
    void trainingStepMatchesCpuBackend() {
        List<Case> cases = cases();
        List<Side> cpu = new ArrayList<>();
        List<Side> dev = new ArrayList<>();
        for (Case k : cases) {
            Side c = new Side(k);
            c.graph.plan.runCpu();
            cpu.add(c);
            dev.add(new Side(k));
        }
        List<String> report = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        try (Backend backend = Backends.create("tornado", System.getProperty("sffn.tornado.device"))) {
            for (Side d : dev) backend.prepare(d.graph.plan);
            for (int i = 0; i < cases.size(); i++) {
                Side d = dev.get(i);
                backend.run(d.graph.plan);
                List<Object> back = new ArrayList<>();
                back.add(d.graph.losses);
                for (Parameter p : d.model.parameters()) back.add(p.grad());
                backend.toHost(d.graph.plan, back.toArray());
            }
            report.add("device: " + backend.describe());
        }
        for (int i = 0; i < cases.size(); i++) {
            Case k = cases.get(i);
            Side c = cpu.get(i);
            Side d = dev.get(i);
            double lc = c.graph.lossSum();
            double ld = d.graph.lossSum();
            double lossErr = Math.abs(ld - lc) / Math.abs(lc);
            double worst = 0;
            String worstName = "";
            List<Parameter> pc = c.model.parameters();
            List<Parameter> pd = d.model.parameters();
            for (int j = 0; j < pc.size(); j++) {
                double e = relativeError(pd.get(j).grad().data, pc.get(j).grad().data);
                if (!(e <= GRAD_TOLERANCE)) {
                    failures.add(k.label() + ": gradient of " + pc.get(j).name + " differs by " + e + " (relative max norm)");
                }
                if (!(e <= worst)) {
                    worst = e;
                    worstName = pc.get(j).name;
                }
            }
            if (!(lossErr <= LOSS_TOLERANCE)) failures.add(k.label() + ": loss " + ld + " vs cpu " + lc);
            report.add(String.format(Locale.ROOT, "%-58s loss cpu %.7f tornado %.7f (rel %.2e); %d gradients, worst %s %.2e",
                    k.label(), lc, ld, lossErr, pc.size(), worstName, worst));
        }
        report.forEach(System.out::println);
        if (!failures.isEmpty()) fail(String.join("\n", failures));
    }
}
