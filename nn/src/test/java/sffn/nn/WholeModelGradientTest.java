package sffn.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import sffn.kernels.StepScalars;
import sffn.nn.config.Activation;
import sffn.nn.config.FfnType;
import sffn.nn.config.MethodConfig;
import sffn.nn.config.ModelConfig;
import sffn.nn.config.Norm;
import sffn.nn.config.PositionEmbedding;
import sffn.nn.config.PostInit;

/**
 * The float32 model's loss and every parameter gradient against central finite differences of
 * an independent float64 forward ({@link ReferenceGpt}), for every FFN type with and without the
 * self-guided blend, across norms, activations, position embeddings and GQA.
 */
class WholeModelGradientTest {
    /** Float32 forward vs float64: relative error of the mean loss. */
    static final double LOSS_TOLERANCE = 2e-6;
    /**
     * Per tensor, max |grad - fd| over max |fd|: float32 rounding leaves ~1e-6 here (measured);
     * a wrong term in any backward is O(1e-2) or more.
     */
    static final double GRAD_TOLERANCE = 1e-4;
    static final double FD_STEP = 1e-5;

    record Case(String label, Norm ln, Activation act, PositionEmbedding pos, int nkv, boolean bias, boolean tied,
                MethodConfig method, boolean guided, boolean oneGuideOff) {
        @Override
        public String toString() {
            return label;
        }
    }

    static Stream<Arguments> cases() {
        MethodConfig dense = new MethodConfig(FfnType.LINEAR, 0, 0, PostInit.NONE, true);
        MethodConfig lowrank = new MethodConfig(FfnType.LOWRANK, 5, 0, PostInit.SVD, true);
        MethodConfig blockdense = new MethodConfig(FfnType.BLOCKDENSE, 6, 3, PostInit.ORTHO, true);
        MethodConfig shuffleWide = new MethodConfig(FfnType.BLOCKSHUFFLE, 0, 2, PostInit.ORTHO, false);
        MethodConfig shuffle3 = new MethodConfig(FfnType.BLOCKSHUFFLE, 0, 3, PostInit.ORTHO, true);
        return Stream.of(
                new Case("dense layernorm gelu rope", Norm.LAYERNORM, Activation.GELU, PositionEmbedding.ROPE, 4, false, true, dense, false, false),
                new Case("dense rmsnorm swiglu absolute gqa bias untied", Norm.RMSNORM, Activation.SWIGLU, PositionEmbedding.ABSOLUTE, 2, true, false, dense, false, false),
                new Case("lowrank layernorm gelu rope gqa", Norm.LAYERNORM, Activation.GELU, PositionEmbedding.ROPE, 2, false, true, lowrank, false, false),
                new Case("lowrank guided rmsnorm swiglu absolute", Norm.RMSNORM, Activation.SWIGLU, PositionEmbedding.ABSOLUTE, 4, true, true, lowrank, true, false),
                new Case("blockdense layernorm swiglu rope bias", Norm.LAYERNORM, Activation.SWIGLU, PositionEmbedding.ROPE, 4, true, true, blockdense, false, false),
                new Case("blockdense guided one guide off", Norm.LAYERNORM, Activation.GELU, PositionEmbedding.ROPE, 2, false, false, blockdense, true, true),
                new Case("blockshuffle nb2 all layers rmsnorm gelu absolute", Norm.RMSNORM, Activation.GELU, PositionEmbedding.ABSOLUTE, 4, false, true, shuffleWide, false, false),
                new Case("blockshuffle nb3 guided layernorm swiglu rope gqa bias", Norm.LAYERNORM, Activation.SWIGLU, PositionEmbedding.ROPE, 2, true, true, shuffle3, true, false)
        ).map(Arguments::of);
    }

    /** A model of case k with perturbed weights, and its training graph over random tokens. */
    private record Setup(Gpt model, TrainingGraph g, ReferenceGpt ref, int batch, int seqLen, int rows) {
    }

    private static Setup setUp(Case k) {
        // hidden 12, 4 q heads of dim 4 (rope needs it even), ffn 18 (swiglu: fc1 36), vocab 11.
        ModelConfig cfg = new ModelConfig(12, 16, 18, 4, k.nkv(), 2, 9, 11, k.tied(), k.ln(), k.act(), k.bias(),
                k.pos(), 10000, 0.02);
        Gpt model = new Gpt(cfg, k.method()).init(7);
        if (k.guided()) model.addGuides();
        Random rng = new Random(11);
        for (Parameter p : model.parameters()) {
            for (int i = 0; i < p.size(); i++) p.value.data[i] += (float) (0.3 * rng.nextGaussian());
        }
        int batch = 2;
        int seqLen = 7;
        TrainingGraph g = new TrainingGraph(model, batch, seqLen);
        int rows = batch * seqLen;
        for (int i = 0; i < rows; i++) {
            g.tokens.data[i] = rng.nextInt(cfg.vocabSize());
            g.targets.data[i] = rng.nextInt(cfg.vocabSize());
        }
        g.targets.data[3] = -1; // one ignored target
        float[] s = model.scalars().data;
        s[StepScalars.LOSS_SCALE] = 1f / (rows - 1);
        s[StepScalars.GUIDE_ALPHA] = 0.35f;
        ReferenceGpt ref = new ReferenceGpt(model);
        ref.alpha = 0.35;
        if (k.oneGuideOff()) {
            var first = model.structuredFfnLinears().get(0);
            s[first.switchSlot()] = 0f;
            ref.guideOn.put(first.prefix(), false);
        }
        return new Setup(model, g, ref, batch, seqLen, rows);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void gradientsMatchFiniteDifferencesOfFloat64Forward(Case k) {
        Setup u = setUp(k);
        Gpt model = u.model();
        TrainingGraph g = u.g();
        ReferenceGpt ref = u.ref();
        int batch = u.batch();
        int seqLen = u.seqLen();
        int rows = u.rows();
        g.plan.runCpu();
        double loss = g.lossSum() / (rows - 1);
        double refLoss = ref.loss(g.tokens.data, g.targets.data, batch, seqLen);
        assertEquals(refLoss, loss, LOSS_TOLERANCE * Math.abs(refLoss), "mean loss vs float64 reference");

        List<String> report = new ArrayList<>();
        for (Parameter p : model.parameters()) {
            double[] w = ref.p.get(p.name);
            double maxErr = 0;
            double maxFd = 0;
            for (int i = 0; i < w.length; i++) {
                double keep = w[i];
                w[i] = keep + FD_STEP;
                double up = ref.loss(g.tokens.data, g.targets.data, batch, seqLen);
                w[i] = keep - FD_STEP;
                double down = ref.loss(g.tokens.data, g.targets.data, batch, seqLen);
                w[i] = keep;
                double fd = (up - down) / (2 * FD_STEP);
                float got = p.grad().data[i];
                assertTrue(Float.isFinite(got), p.name + "[" + i + "] gradient is " + got);
                maxErr = Math.max(maxErr, Math.abs(got - fd));
                maxFd = Math.max(maxFd, Math.abs(fd));
            }
            double rel = maxErr / (maxFd + 1e-9);
            if (rel > GRAD_TOLERANCE) report.add(p.name + ": max err " + maxErr + " / max |fd| " + maxFd);
        }
        assertTrue(report.isEmpty(), "gradients off in " + k + ":\n" + String.join("\n", report));
    }

    /**
     * The CPU backend runs a plan after {@link sffn.kernels.plan.Fusion#forCpu}: the loss and
     * every gradient are the bits of the plan run as written (gradients zeroed before each run).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void theCpuBackendsFusedCallsGiveTheBitsOfThePlanAsWritten(Case k) {
        Setup u = setUp(k);
        List<Parameter> params = u.model().parameters();
        for (Parameter p : params) p.grad().fill(0f);
        u.g().plan.runCpu();
        double loss = u.g().lossSum();
        List<float[]> grads = new ArrayList<>();
        for (Parameter p : params) grads.add(p.grad().data.clone());
        for (Parameter p : params) p.grad().fill(0f);
        try (sffn.kernels.backend.CpuBackend fused = new sffn.kernels.backend.CpuBackend(false, true)) {
            fused.run(u.g().plan);
        }
        assertEquals(loss, u.g().lossSum(), 0.0, "loss");
        for (int i = 0; i < params.size(); i++) {
            float[] want = grads.get(i);
            float[] got = params.get(i).grad().data;
            for (int j = 0; j < want.length; j++) {
                assertEquals(Float.floatToRawIntBits(want[j]), Float.floatToRawIntBits(got[j]),
                        params.get(i).name + "[" + j + "]: " + want[j] + " as written, " + got[j] + " fused");
            }
        }
        int written = 0;
        int run = 0;
        for (var section : u.g().plan.sections()) {
            written += section.calls().size();
            run += sffn.kernels.plan.Fusion.forCpu(section.calls()).size();
        }
        assertTrue(run < written, "nothing was fused: " + written + " calls");
    }
}
