package sffn.decode;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import sffn.kernels.StepScalars;
import sffn.kernels.Tensor;
import sffn.kernels.plan.Plan;
import sffn.nn.Buffers;
import sffn.nn.Gpt;
import sffn.nn.Parameter;
import sffn.nn.config.Activation;
import sffn.nn.config.FfnType;
import sffn.nn.config.MethodConfig;
import sffn.nn.config.ModelConfig;
import sffn.nn.config.Norm;
import sffn.nn.config.PositionEmbedding;
import sffn.nn.config.PostInit;

/**
 * Logits from prefill and one-token steps against the KV cache equal a full forward over the same
 * tokens; with a bfloat16 cache, they stay within what rounding the keys and values costs.
 */
class CachedDecodingTest {
    /** Max |cached - full| over max |full| logit: same float32 maths in another order. */
    static final double TOLERANCE = 2e-5;
    /**
     * The same with keys and values rounded to bfloat16 (relative error up to 2^-9 each): these
     * models, their weights perturbed to spread the logits, moved by up to 3.6e-3 of the largest.
     * A cache read at the wrong place moves them by a tenth or more.
     */
    static final double BF16_TOLERANCE = 1e-2;

    static Stream<Arguments> models() {
        return Stream.of(
                Arguments.of("dense rope mha", MethodConfig.DENSE, PositionEmbedding.ROPE, 4, Norm.LAYERNORM, Activation.GELU, false),
                Arguments.of("lowrank rope gqa", new MethodConfig(FfnType.LOWRANK, 6, 0, PostInit.SVD, true), PositionEmbedding.ROPE, 2, Norm.RMSNORM, Activation.SWIGLU, false),
                Arguments.of("blockdense absolute gqa bias", new MethodConfig(FfnType.BLOCKDENSE, 8, 4, PostInit.ORTHO, false), PositionEmbedding.ABSOLUTE, 2, Norm.LAYERNORM, Activation.GELU, false),
                Arguments.of("blockshuffle absolute guided", new MethodConfig(FfnType.BLOCKSHUFFLE, 0, 4, PostInit.ORTHO, false), PositionEmbedding.ABSOLUTE, 4, Norm.RMSNORM, Activation.GELU, true),
                Arguments.of("blockshuffle rope gqa1", new MethodConfig(FfnType.BLOCKSHUFFLE, 0, 2, PostInit.NONE, true), PositionEmbedding.ROPE, 1, Norm.LAYERNORM, Activation.SWIGLU, false));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void cachedLogitsEqualFullForward(String label, MethodConfig method, PositionEmbedding pos, int nkv, Norm ln, Activation act,
                                      boolean guided) {
        ModelConfig cfg = new ModelConfig(24, 24, 40, 4, nkv, 3, 20, 29, true, ln, act, label.contains("bias"), pos, 10000, 0.02);
        Gpt model = new Gpt(cfg, method).init(5);
        if (guided) model.addGuides();
        Random rng = new Random(9);
        for (Parameter p : model.parameters()) {
            for (int i = 0; i < p.size(); i++) p.value.data[i] += (float) (0.2 * rng.nextGaussian());
        }
        model.scalars().data[StepScalars.GUIDE_ALPHA] = 0.4f;
        int batch = 2;
        int prompt = 5;
        int steps = 6;
        int total = prompt + steps;
        int[][] seqs = new int[batch][total];
        for (int[] s : seqs) for (int i = 0; i < total; i++) s[i] = rng.nextInt(cfg.vocabSize());

        for (KvCacheTensors.Format format : KvCacheTensors.Format.values()) for (FfnPath path : new FfnPath[] {FfnPath.STRUCTURED, FfnPath.MERGED}) {
            double tol = format == KvCacheTensors.Format.BF16 ? BF16_TOLERANCE : TOLERANCE;
            String what = label + " " + path + " " + format.label() + " cache";
            KvCacheTensors cache = new KvCacheTensors(cfg, batch, total, format);
            MergedWeights merged = new MergedWeights(model);
            MergePolicy policy = MergePolicy.fixed(path);
            DecodeGraph prefill = new DecodeGraph(model, cache, merged, policy, prompt);
            DecodeGraph step = new DecodeGraph(model, cache, merged, policy, 1);
            for (int b = 0; b < batch; b++) System.arraycopy(seqs[b], 0, prefill.tokens.data, b * prompt, prompt);
            cache.pos.data[0] = 0;
            prefill.logits.fill(Float.NaN);
            prefill.plan.runCpu();
            compare(what + " prefill", prefill.logits, full(model, seqs, prompt), cfg.vocabSize(), tol);
            for (int t = prompt; t < total; t++) {
                for (int b = 0; b < batch; b++) step.tokens.data[b] = seqs[b][t];
                cache.pos.data[0] = t;
                step.logits.fill(Float.NaN);
                step.plan.runCpu();
                compare(what + " step at " + t, step.logits, full(model, seqs, t + 1), cfg.vocabSize(), tol);
            }
        }
    }

    /** Logits of the last of the first {@code len} tokens of each sequence, from a full forward. */
    static float[][] full(Gpt model, int[][] seqs, int len) {
        int batch = seqs.length;
        Buffers buf = new Buffers();
        var tokens = buf.ints("tokens", batch * len);
        for (int b = 0; b < batch; b++) System.arraycopy(seqs[b], 0, tokens.data, b * len, len);
        Plan plan = new Plan("full");
        Tensor logits = model.forward(plan, buf, tokens, batch, len);
        plan.runCpu();
        int v = model.config.vocabSize();
        float[][] last = new float[batch][v];
        for (int b = 0; b < batch; b++) System.arraycopy(logits.data, ((b + 1) * len - 1) * v, last[b], 0, v);
        return last;
    }

    static void compare(String what, Tensor got, float[][] want, int vocab, double tolerance) {
        double err = 0;
        double ref = 0;
        for (int b = 0; b < want.length; b++) {
            for (int i = 0; i < vocab; i++) {
                float g = got.data[b * vocab + i];
                assertTrue(Float.isFinite(g), what + ": logit " + i + " of sequence " + b + " is " + g);
                err = Math.max(err, Math.abs(g - want[b][i]));
                ref = Math.max(ref, Math.abs(want[b][i]));
            }
        }
        if (Boolean.getBoolean("sffn.test.trace")) System.out.printf("%s: %.3g%n", what, err / ref);
        assertTrue(err <= tolerance * ref, what + ": max err " + err + " vs max |logit| " + ref);
    }
}
