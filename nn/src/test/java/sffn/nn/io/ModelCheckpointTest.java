package sffn.nn.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sffn.nn.Gpt;
import sffn.nn.Parameter;
import sffn.nn.config.Activation;
import sffn.nn.config.FfnType;
import sffn.nn.config.MethodConfig;
import sffn.nn.config.ModelConfig;
import sffn.nn.config.Norm;
import sffn.nn.config.PositionEmbedding;
import sffn.nn.config.PostInit;

class ModelCheckpointTest {
    @TempDir
    Path dir;

    static final ModelConfig CFG = new ModelConfig(24, 24, 40, 4, 2, 2, 16, 37, false, Norm.LAYERNORM, Activation.GELU,
            true, PositionEmbedding.ABSOLUTE, 10000, 0.02);

    @Test
    void roundTripIsBitExactForEveryTensorIncludingGuides() throws IOException {
        Gpt model = new Gpt(CFG, new MethodConfig(FfnType.BLOCKDENSE, 12, 4, PostInit.ORTHO, true)).init(3);
        model.addGuides();
        Path ckpt = dir.resolve("ckpt");
        AtomicDirectory.write(ckpt, d -> ModelCheckpoint.write(d, model, null));
        Gpt back = ModelCheckpoint.read(ckpt);
        assertEquals(model.config, back.config);
        assertEquals(model.method, back.method);
        assertTrue(back.guided());
        List<Parameter> a = model.parameters();
        List<Parameter> b = back.parameters();
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) {
            assertEquals(a.get(i).name, b.get(i).name);
            assertArrayEquals(a.get(i).value.data, b.get(i).value.data, a.get(i).name);
        }
    }

    @Test
    void checkpointOfAnotherShapeNamesTheTensorAndFile() throws IOException {
        Gpt model = new Gpt(CFG, new MethodConfig(FfnType.LOWRANK, 8, 0, PostInit.SVD, true)).init(1);
        Path ckpt = dir.resolve("ckpt");
        AtomicDirectory.write(ckpt, d -> ModelCheckpoint.write(d, model, null));
        Path cfg = ckpt.resolve("config.json");
        Files.writeString(cfg, Files.readString(cfg).replace("\"rank\" : 8", "\"rank\" : 6"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelCheckpoint.read(ckpt));
        assertTrue(e.getMessage().contains("model.safetensors"), e.getMessage());
        assertTrue(e.getMessage().contains("layers.1.mlp.fc1.lr1 has shape [8, 24] in the file but the model expects [6, 24]"),
                e.getMessage());
    }

    @Test
    void missingPiecesAreNamed() throws IOException {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ModelCheckpoint.read(dir.resolve("none")))
                .getMessage().contains("does not exist"));
        Path empty = Files.createDirectories(dir.resolve("empty"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ModelCheckpoint.read(empty))
                .getMessage().contains("config.json: missing"));
        Gpt model = new Gpt(CFG, MethodConfig.DENSE).init(1);
        Path ckpt = dir.resolve("ckpt");
        AtomicDirectory.write(ckpt, d -> ModelCheckpoint.write(d, model, null));
        Files.write(ckpt.resolve("model.safetensors"), new byte[] {1, 2, 3});
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelCheckpoint.read(ckpt));
        assertTrue(e.getMessage().startsWith(ckpt.resolve("model.safetensors").toString()), e.getMessage());
    }
}
