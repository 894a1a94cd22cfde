package sffn.decode;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import sffn.kernels.CompactWeight;
import sffn.kernels.Int8Groups;
import sffn.kernels.Tensor;
import sffn.kernels.WeightFormat;
import sffn.nn.Gpt;
import sffn.nn.Parameter;
import sffn.nn.config.Activation;
import sffn.nn.config.FfnType;
import sffn.nn.config.MethodConfig;
import sffn.nn.config.ModelConfig;
import sffn.nn.config.Norm;
import sffn.nn.config.PositionEmbedding;
import sffn.nn.config.PostInit;
import sffn.nn.io.ModelCheckpoint;
import sffn.nn.io.Safetensors;
import sffn.nn.io.SafetensorsFile;

/** {@code sffn export}'s files: standard dtypes and names, read back into exactly the weights decoding uses. */
class CompactExportTest {
    @TempDir
    Path tmp;

    private static Gpt model() {
        ModelConfig cfg = new ModelConfig(40, 40, 52, 4, 2, 2, 16, 29, true, Norm.RMSNORM, Activation.SWIGLU, true,
                PositionEmbedding.ROPE, 10000, 0.02);
        Gpt m = new Gpt(cfg, new MethodConfig(FfnType.LOWRANK, 12, 0, PostInit.SVD, true)).init(3);
        Random r = new Random(4);
        for (Parameter p : m.parameters()) for (int i = 0; i < p.size(); i++) p.value.data[i] += (float) (0.1 * r.nextGaussian());
        return m;
    }

    @ParameterizedTest
    @EnumSource(value = WeightFormat.class, names = {"BF16", "INT8"})
    void exportedCheckpointHoldsStandardTensorsAndLoadsToTheSameCompactWeights(WeightFormat format) throws Exception {
        Path src = Files.createDirectories(tmp.resolve("ckpt"));
        ModelCheckpoint.write(src, model(), null);
        Path out = tmp.resolve("out");
        CompactExport.write(src, out, format);
        assertEquals(format, CompactExport.storedFormat(out));
        assertEquals(WeightFormat.FP32, CompactExport.storedFormat(src));
        assertEquals(format.label(), ModelCheckpoint.readConfig(out).path("weights").asText());

        Gpt want = ModelCheckpoint.read(src);
        CompactWeights compressed = CompactWeights.of(want, format, null);
        Gpt got = ModelCheckpoint.read(out);
        CompactWeights loaded = CompactWeights.of(got, format, out.resolve(ModelCheckpoint.MODEL));
        List<Parameter> wp = want.parameters();
        List<Parameter> gp = got.parameters();
        for (int i = 0; i < wp.size(); i++) {
            assertArrayEquals(wp.get(i).value.data, gp.get(i).value.data, wp.get(i).name + ": the loaded floats are the rounded ones");
        }
        try (SafetensorsFile f = Safetensors.open(out.resolve(ModelCheckpoint.MODEL))) {
            for (Tensor t : CompactWeights.productWeights(want)) {
                CompactWeight a = compressed.of(t);
                CompactWeight b = loaded.of(CompactWeights.productWeights(got).get(CompactWeights.productWeights(want).indexOf(t)));
                switch (a) {
                    case CompactWeight.Bf16Weight x -> {
                        assertEquals(Safetensors.Dtype.BF16, f.dtype(t.name));
                        assertArrayEquals(x.bits().data, ((CompactWeight.Bf16Weight) b).bits().data, t.name);
                    }
                    case CompactWeight.Int8Weight x -> {
                        assertEquals(Safetensors.Dtype.I8, f.dtype(t.name));
                        assertEquals(Safetensors.Dtype.F32, f.dtype(t.name + ".scale"));
                        int[] s = t.shape();
                        s[s.length - 1] = Int8Groups.groups(s[s.length - 1]);
                        assertArrayEquals(s, f.shape(t.name + ".scale"));
                        assertArrayEquals(x.q().data, ((CompactWeight.Int8Weight) b).q().data, t.name);
                        assertArrayEquals(x.scale().data, ((CompactWeight.Int8Weight) b).scale().data, t.name + ".scale");
                    }
                }
            }
            assertEquals(Safetensors.Dtype.F32, f.dtype("ln_f.weight"));
            assertEquals(Safetensors.Dtype.F32, f.dtype("layers.0.attn.qkv.bias"));
            assertEquals(format == WeightFormat.INT8 ? "32" : null, f.metadata().get(Safetensors.INT8_GROUP_KEY));
        }
    }

    @ParameterizedTest
    @EnumSource(value = WeightFormat.class, names = {"BF16", "INT8"})
    void exportRefusesAnExistingDirectoryAndLeavesItAlone(WeightFormat format) throws Exception {
        Path src = Files.createDirectories(tmp.resolve("ckpt"));
        ModelCheckpoint.write(src, model(), null);
        Path out = Files.createDirectories(tmp.resolve("taken"));
        Files.writeString(out.resolve("notes.txt"), "mine");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CompactExport.write(src, out, format));
        assertTrue(e.getMessage().contains("exists"), e.getMessage());
        assertEquals("mine", Files.readString(out.resolve("notes.txt")));
    }
}
