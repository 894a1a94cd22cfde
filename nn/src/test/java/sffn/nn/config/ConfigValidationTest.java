package sffn.nn.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ConfigValidationTest {
    static final String MODEL = """
            {"hidden_dim": 64, "ffn_dim": 256, "num_q_heads": 4, "num_layers": 2,
             "max_position_embeddings": 32, "vocab_size": 256 %s}""";

    @TempDir
    Path dir;

    Path write(String name, String json) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, json);
        return p;
    }

    static Stream<Arguments> badModels() {
        return Stream.of(
                Arguments.of(", \"num_kv_heads\": 3", "'num_q_heads' (4) must be a multiple of num_kv_heads (3)"),
                Arguments.of(", \"attn_dim\": 66", "'attn_dim' (66) must be divisible by num_q_heads (4)"),
                Arguments.of(", \"ln\": \"batchnorm\"", "'ln' must be one of layernorm|rmsnorm, got \"batchnorm\""),
                Arguments.of(", \"act\": 3", "'act' must be a string, got 3"),
                Arguments.of(", \"hidden_dimm\": 64", "unknown field 'hidden_dimm'"),
                Arguments.of(", \"num_layers\": 0", "'num_layers' must be positive, got 0"),
                Arguments.of(", \"bias\": \"yes\"", "'bias' must be true or false"),
                Arguments.of(", \"attn_dim\": 20, \"num_q_heads\": 4, \"pos_emb\": \"rope\"", "rope needs an even one"));
    }

    @ParameterizedTest
    @MethodSource("badModels")
    void badModelConfigNamesFileAndField(String extra, String expected) throws IOException {
        String json = MODEL.formatted(extra).replace("\"num_q_heads\": 4, \"num_layers\"", extra.contains("num_q_heads")
                ? "\"num_layers\"" : "\"num_q_heads\": 4, \"num_layers\"");
        Path p = write("model.json", json);
        ConfigException e = assertThrows(ConfigException.class, () -> ModelConfig.read(p));
        assertTrue(e.getMessage().startsWith(p.toString() + ":"), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void missingFieldAndBrokenJsonAreNamed() throws IOException {
        Path p = write("m.json", "{\"hidden_dim\": 64}");
        assertTrue(assertThrows(ConfigException.class, () -> ModelConfig.read(p)).getMessage()
                .contains("field 'ffn_dim' is missing"));
        Path q = write("broken.json", "{\"hidden_dim\": 64,");
        assertTrue(assertThrows(ConfigException.class, () -> ModelConfig.read(q)).getMessage()
                .startsWith(q + ": not valid JSON"));
        Path none = dir.resolve("absent.json");
        assertEquals(none + ": no such file", assertThrows(ConfigException.class, () -> ModelConfig.read(none)).getMessage());
    }

    @Test
    void defaultsFollowThePaper() throws IOException {
        ModelConfig m = ModelConfig.read(write("m.json", MODEL.formatted("")));
        assertEquals(64, m.attnDim());
        assertEquals(4, m.numKvHeads());
        assertEquals(Norm.LAYERNORM, m.ln());
        assertEquals(PositionEmbedding.ROPE, m.posEmb());
        assertEquals(10000, m.rotaryBase());
        assertEquals(0.02, m.initializerRange());
        assertTrue(m.tieWordEmbeddings());
        MethodConfig lr = MethodConfig.read(write("lr.json", "{\"name\": \"lowrank\", \"rank\": 16}"));
        assertEquals(PostInit.SVD, lr.postInit());
        assertTrue(lr.firstLayerDense());
        assertEquals(PostInit.ORTHO, MethodConfig.read(write("bd.json", "{\"name\": \"blockdense\", \"rank\": 16, \"nblocks\": 4}")).postInit());
    }

    static Stream<Arguments> badMethods() {
        return Stream.of(
                Arguments.of("{\"name\": \"blockdense\", \"rank\": 10, \"nblocks\": 4}", "'rank' (10) must be divisible by nblocks (4)"),
                Arguments.of("{\"name\": \"lowrank\"}", "'rank' must be positive for lowrank"),
                Arguments.of("{\"name\": \"monarch\"}", "'name' must be one of linear|lowrank|blockdense|blockshuffle"),
                Arguments.of("{\"name\": \"lowrank\", \"rank\": 8, \"post_init\": \"xavier\"}", "'post_init' must be one of svd|ortho|none"),
                Arguments.of("{\"name\": \"lowrank\", \"rank\": 8, \"nblock\": 2}", "unknown field 'nblock'"));
    }

    @ParameterizedTest
    @MethodSource("badMethods")
    void badMethodConfigNamesFileAndField(String json, String expected) throws IOException {
        Path p = write("method.json", json);
        ConfigException e = assertThrows(ConfigException.class, () -> MethodConfig.read(p));
        assertTrue(e.getMessage().startsWith(p + ":"), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void methodMustFitTheModel() throws IOException {
        ModelConfig m = ModelConfig.read(write("m.json", MODEL.formatted("")));
        MethodConfig b = MethodConfig.read(write("b.json", "{\"name\": \"blockshuffle\", \"nblocks\": 3}"));
        ConfigException e = assertThrows(ConfigException.class, () -> b.checkAgainst(m, "b.json"));
        assertTrue(e.getMessage().contains("b.json: field 'nblocks' (3) must divide the FFN widths"), e.getMessage());
        MethodConfig lr = MethodConfig.read(write("lr.json", "{\"name\": \"lowrank\", \"rank\": 65}"));
        assertTrue(assertThrows(ConfigException.class, () -> lr.checkAgainst(m, "lr.json")).getMessage()
                .contains("exceeds the smaller FFN width 64"));
    }

    @Test
    void everyShippedConfigLoads() throws IOException {
        try (Stream<Path> files = Files.walk(Path.of("..", "configs"))) {
            for (Path p : files.filter(f -> f.toString().endsWith(".json")).toList()) {
                String s = p.toString();
                if (s.contains("/model/")) ModelConfig.read(p);
                else if (s.contains("/method/")) MethodConfig.read(p);
            }
        }
    }
}
