package sffn.decode;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import sffn.kernels.backend.CpuBackend;
import sffn.nn.Gpt;
import sffn.nn.config.Activation;
import sffn.nn.config.FfnType;
import sffn.nn.config.MethodConfig;
import sffn.nn.config.ModelConfig;
import sffn.nn.config.Norm;
import sffn.nn.config.PositionEmbedding;
import sffn.nn.config.PostInit;

class GeneratorTest {
    static final ModelConfig CFG = new ModelConfig(16, 16, 32, 4, 2, 2, 32, 13, true, Norm.LAYERNORM, Activation.GELU, false,
            PositionEmbedding.ROPE, 10000, 0.5);

    static Generator generator(FfnPath path) {
        Gpt model = new Gpt(CFG, new MethodConfig(FfnType.LOWRANK, 4, 0, PostInit.NONE, false)).init(2);
        return new Generator(model, new CpuBackend(), new MergedWeights(model), MergePolicy.fixed(path));
    }

    @Test
    void greedyGenerationEqualsArgmaxOfFullForwards() {
        Generator gen = generator(FfnPath.STRUCTURED);
        int[] prompt = {1, 5, 7};
        Generator.Result r = gen.generate(prompt, 1, 8, Sampler.Settings.greedy(), -1, null);
        int[] seq = prompt.clone();
        for (int i = 0; i < 8; i++) {
            int[][] s = {seq};
            float[][] logits = CachedDecodingTest.full(gen.model(), s, seq.length);
            int next = Sampler.argmax(logits[0], 0, CFG.vocabSize());
            assertEquals(next, r.tokens().get(0)[i], "token " + i);
            seq = java.util.Arrays.copyOf(seq, seq.length + 1);
            seq[seq.length - 1] = next;
        }
    }

    @Test
    void mergedAndStructuredPathsGenerateTheSameGreedyTokens() {
        int[] prompt = {2, 3};
        int[] a = generator(FfnPath.STRUCTURED).generate(prompt, 1, 10, Sampler.Settings.greedy(), -1, null).tokens().get(0);
        int[] b = generator(FfnPath.MERGED).generate(prompt, 1, 10, Sampler.Settings.greedy(), -1, null).tokens().get(0);
        assertArrayEquals(a, b);
    }

    @Test
    void stopTokenEndsASequenceAndTheSinkSeesEveryToken() {
        Generator gen = generator(FfnPath.STRUCTURED);
        int[] prompt = {4};
        int[] free = gen.generate(prompt, 1, 12, Sampler.Settings.greedy(), -1, null).tokens().get(0);
        int stop = free[3];
        int firstStop = 0;
        while (free[firstStop] != stop) firstStop++;
        List<Integer> seen = new ArrayList<>();
        Generator.Result r = gen.generate(prompt, 1, 12, Sampler.Settings.greedy(), stop, (b, t) -> seen.add(t));
        assertArrayEquals(java.util.Arrays.copyOf(free, firstStop), r.tokens().get(0));
        assertEquals(firstStop, seen.size());
    }

    @Test
    void batchMembersSampleWithTheirOwnSeedsAndBatchOneMatchesMemberZero() {
        Generator gen = generator(FfnPath.STRUCTURED);
        Sampler.Settings s = new Sampler.Settings(1.0, 0, 1.0, 11);
        Generator.Result batch = gen.generate(new int[] {1, 2}, 3, 10, s, -1, null);
        Generator.Result one = gen.generate(new int[] {1, 2}, 1, 10, s, -1, null);
        assertArrayEquals(one.tokens().get(0), batch.tokens().get(0));
        assertTrue(!java.util.Arrays.equals(batch.tokens().get(0), batch.tokens().get(1))
                || !java.util.Arrays.equals(batch.tokens().get(1), batch.tokens().get(2)), "members should differ");
        assertEquals(9, batch.decodeSteps());
    }

    @Test
    void tooLongARequestSaysSo() {
        Generator gen = generator(FfnPath.STRUCTURED);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> gen.generate(new int[30], 1, 10, Sampler.Settings.greedy(), -1, null));
        assertTrue(e.getMessage().contains("exceed the model's context of 32 tokens"), e.getMessage());
    }

}
