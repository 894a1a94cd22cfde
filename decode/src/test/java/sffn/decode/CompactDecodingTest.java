package sffn.decode;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import sffn.kernels.CompactWeight;
import sffn.kernels.StepScalars;
import sffn.kernels.Tensor;
import sffn.kernels.WeightFormat;
import sffn.kernels.plan.KernelCall;
import sffn.kernels.plan.Plan;
import sffn.nn.Gpt;
import sffn.nn.Parameter;
import sffn.nn.config.Activation;
import sffn.nn.config.MethodConfig;
import sffn.nn.config.ModelConfig;
import sffn.nn.config.Norm;
import sffn.nn.config.PositionEmbedding;

/**
 * Decoding with bf16 and int8 weights computes the model whose weights are rounded to the format:
 * every product of a step reads a compact weight (none is left in float32), and prefill and
 * one-token logits equal those of float32 decoding of the rounded weights, structured and
 * pre-merged (merged in float32, then compressed), for every FFN structure.
 */
class CompactDecodingTest {

    static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> models() {
        return CachedDecodingTest.models().limit(4); // every FFN structure, with and without a guide
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void compactDecodingComputesTheRoundedModel(String label, MethodConfig method, PositionEmbedding pos, int nkv, Norm ln,
                                                Activation act, boolean guided) throws Exception {
        for (WeightFormat format : new WeightFormat[] {WeightFormat.BF16, WeightFormat.INT8}) {
            // Rows of 40 and 52 inputs: int8 groups end inside rows and vectors.
            ModelConfig cfg = new ModelConfig(40, 40, 52, 4, nkv, 2, 20, 29, true, ln, act, label.contains("bias"), pos, 10000, 0.02);
            Gpt model = new Gpt(cfg, method).init(5);
            if (guided) model.addGuides();
            Random rng = new Random(9);
            for (Parameter p : model.parameters()) {
                for (int i = 0; i < p.size(); i++) p.value.data[i] += (float) (0.2 * rng.nextGaussian());
            }
            model.scalars().data[StepScalars.GUIDE_ALPHA] = 0.4f;
            float before = model.head().value.data[3];
            CompactWeights weights = CompactWeights.of(model, format, null);
            assertEquals(format, weights.format());
            for (Tensor t : CompactWeights.productWeights(model)) {
                CompactWeight c = weights.of(t);
                assertNotNull(c, t.name + " must be compact");
                float[] d = c.dequantised();
                for (int i = 0; i < d.length; i++) {
                    assertEquals(Float.floatToRawIntBits(d[i]), Float.floatToRawIntBits(t.data[i]), t.name + " rounded in place, " + i);
                }
            }
            assertTrue(Math.abs(model.head().value.data[3] - before) <= Math.abs(before) * (format == WeightFormat.BF16 ? 0x1p-8 : 0.5),
                    "rounding stays near the weight");
            MergedWeights merged = new MergedWeights(model);
            weights.withMerged(merged, model);

            int batch = 2;
            int prompt = 5;
            int total = prompt + 2;
            int[][] seqs = new int[batch][total];
            for (int[] s : seqs) for (int i = 0; i < total; i++) s[i] = rng.nextInt(cfg.vocabSize());
            for (FfnPath path : new FfnPath[] {FfnPath.STRUCTURED, FfnPath.MERGED}) {
                MergePolicy policy = MergePolicy.fixed(path);
                KvCacheTensors fc = new KvCacheTensors(cfg, batch, total);
                KvCacheTensors cc = new KvCacheTensors(cfg, batch, total);
                DecodeGraph[] fp32 = {new DecodeGraph(model, fc, merged, policy, prompt), new DecodeGraph(model, fc, merged, policy, 1)};
                DecodeGraph[] compact = {new DecodeGraph(model, cc, merged, policy, weights, prompt),
                        new DecodeGraph(model, cc, merged, policy, weights, 1)};
                for (DecodeGraph g : compact) assertNoFloatProducts(label + " " + format + " " + path, g.plan, model, merged);
                String what = label + " " + format.label() + " " + path;
                for (int t = prompt; t <= total; t++) {
                    int g = t == prompt ? 0 : 1;
                    int n = t == prompt ? prompt : 1;
                    for (DecodeGraph[] pair : new DecodeGraph[][] {fp32, compact}) {
                        for (int b = 0; b < batch; b++) System.arraycopy(seqs[b], t - n, pair[g].tokens.data, b * n, n);
                        pair[g].logits.fill(Float.NaN);
                    }
                    fc.pos.data[0] = t - n;
                    cc.pos.data[0] = t - n;
                    fp32[g].plan.runCpu();
                    compact[g].plan.runCpu();
                    float[][] want = new float[batch][cfg.vocabSize()];
                    for (int b = 0; b < batch; b++) {
                        System.arraycopy(fp32[g].logits.data, b * cfg.vocabSize(), want[b], 0, cfg.vocabSize());
                    }
                    CachedDecodingTest.compare(what + " at " + t, compact[g].logits, want, cfg.vocabSize(), CachedDecodingTest.TOLERANCE);
                }
            }
        }
    }

    /** No product of the plan multiplies by a float32 weight of the model or a float32 merged matrix. */
    private static void assertNoFloatProducts(String what, Plan plan, Gpt model, MergedWeights merged) {
        java.util.Set<Tensor> floats = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (Parameter p : model.parameters()) floats.add(p.value);
        for (var l : model.structuredFfnLinears()) floats.add(merged.of(l).value);
        int compact = 0;
        for (Plan.Section s : plan.sections()) {
            for (KernelCall c : s.calls()) {
                KernelCall inner = c instanceof KernelCall.WhenGuided w ? w.inner() : c;
                if (inner instanceof KernelCall.MatmulForward m) assertFalse(floats.contains(m.b()), what + ": " + m.b() + " read as float32");
                if (inner instanceof KernelCall.BlockDiagForward m) assertFalse(floats.contains(m.w()), what + ": " + m.w() + " read as float32");
                if (inner instanceof KernelCall.Bf16MatmulForward || inner instanceof KernelCall.Int8MatmulForward
                        || inner instanceof KernelCall.Bf16BlockDiagForward || inner instanceof KernelCall.Int8BlockDiagForward) {
                    compact++;
                }
            }
        }
        assertTrue(compact > 0, what + ": no compact product in the plan");
    }
}
