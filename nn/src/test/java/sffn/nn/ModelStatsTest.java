package sffn.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.Locale;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import sffn.nn.config.Activation;
import sffn.nn.config.FfnType;
import sffn.nn.config.MethodConfig;
import sffn.nn.config.ModelConfig;
import sffn.nn.config.Norm;
import sffn.nn.config.PositionEmbedding;
import sffn.nn.config.PostInit;

class ModelStatsTest {
    static final Path CONFIGS = Path.of("..", "configs");

    static Stream<Arguments> table1() {
        // Table 1 of the paper, Transformer-xl: model params (M), FFN params (M), training FLOPs for 25.5B tokens.
        return Stream.of(
                Arguments.of("dense.json", 1274, 805, "2.10e+20"),
                Arguments.of("xl/lowrank-63.json", 985, 516, "1.66e+20"),
                Arguments.of("xl/blockdense-63.json", 955, 486, "1.61e+20"),
                Arguments.of("xl/blockshuffle-63.json", 985, 516, "1.66e+20"),
                Arguments.of("xl/lowrank-32.json", 744, 275, "1.29e+20"),
                Arguments.of("xl/blockdense-32.json", 728, 260, "1.27e+20"),
                Arguments.of("xl/blockshuffle-32.json", 744, 275, "1.29e+20"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("table1")
    void reproducesTable1OfThePaperForTransformerXl(String method, long modelM, long ffnM, String flops) {
        ModelConfig m = ModelConfig.read(CONFIGS.resolve("model/transformer-xl.json"));
        MethodConfig f = MethodConfig.read(CONFIGS.resolve("method/" + method));
        ModelStats s = ModelStats.of(m, f);
        assertEquals(modelM, Math.round(s.modelParams() / 1e6), "model params (M)");
        assertEquals(ffnM, Math.round(s.ffnParams() / 1e6), "FFN params (M)");
        assertEquals(flops, String.format(Locale.ROOT, "%.2e", s.trainingFlops(25.5e9)), "training FLOPs");
    }

    static Stream<Arguments> shapes() {
        return Stream.of(
                Arguments.of(Norm.LAYERNORM, Activation.GELU, PositionEmbedding.ROPE, true, true, new MethodConfig(FfnType.LINEAR, 0, 0, PostInit.NONE, true)),
                Arguments.of(Norm.RMSNORM, Activation.SWIGLU, PositionEmbedding.ABSOLUTE, false, false, new MethodConfig(FfnType.LOWRANK, 8, 0, PostInit.NONE, true)),
                Arguments.of(Norm.LAYERNORM, Activation.SWIGLU, PositionEmbedding.ROPE, true, false, new MethodConfig(FfnType.BLOCKDENSE, 12, 4, PostInit.NONE, false)),
                Arguments.of(Norm.RMSNORM, Activation.GELU, PositionEmbedding.ABSOLUTE, true, true, new MethodConfig(FfnType.BLOCKSHUFFLE, 0, 4, PostInit.NONE, true)));
    }

    @ParameterizedTest
    @MethodSource("shapes")
    void countsMatchTheTensorsAModelAllocates(Norm ln, Activation act, PositionEmbedding pos, boolean bias, boolean tied,
                                              MethodConfig method) {
        ModelConfig m = new ModelConfig(32, 32, 48, 4, 2, 3, 16, 19, tied, ln, act, bias, pos, 10000, 0.02);
        Gpt model = new Gpt(m, method);
        long all = 0;
        for (Parameter p : model.parameters()) all += p.size();
        long ffn = 0;
        for (Gpt.Block b : model.blocks()) {
            ffn += b.fc1().structure().macsPerToken() + b.fc2().structure().macsPerToken();
        }
        ModelStats s = ModelStats.of(m, method);
        assertEquals(all, s.modelParams(), "model params");
        assertEquals(ffn, s.ffnParams(), "FFN params");
    }

    @Test
    void guideDoesNotCountAsModelParameters() {
        ModelConfig m = new ModelConfig(32, 32, 48, 4, 4, 2, 16, 19, true, Norm.LAYERNORM, Activation.GELU, false,
                PositionEmbedding.ROPE, 10000, 0.02);
        MethodConfig lr = new MethodConfig(FfnType.LOWRANK, 8, 0, PostInit.NONE, true);
        Gpt model = new Gpt(m, lr);
        model.addGuides();
        long guides = 0;
        for (Parameter p : model.parameters()) if (p.name.endsWith(".guide")) guides += p.size();
        assertEquals(2L * 32 * 48, guides, "one guided layer: fc1 [48,32] and fc2 [32,48]");
    }
}
