package sffn.decode;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import sffn.kernels.CompactWeight;
import sffn.kernels.Int8Groups;
import sffn.kernels.WeightFormat;
import sffn.nn.Gpt;
import sffn.nn.Parameter;
import sffn.nn.io.AtomicDirectory;
import sffn.nn.io.ModelCheckpoint;
import sffn.nn.io.Safetensors;
import sffn.nn.io.SafetensorsFile;
import sffn.nn.tokenizer.TokenizerInfo;

/**
 * A decode checkpoint in a compact format: {@code config.json} (the source's, with
 * {@code "weights"}), the tokenizer, and {@code model.safetensors} with every product weight of
 * {@link CompactWeights#productWeights} as {@code BF16}, or as {@code I8} {@code <name>} (the
 * weight's shape) with {@code F32} {@code <name>.scale} (the last dimension in groups of
 * {@link Int8Groups#GROUP}, recorded as {@code int8_group_size} in the header's metadata), and
 * everything else (norms, biases, an untied embedding) as {@code F32}. Plain safetensors: the
 * usual Python tools read it. No optimizer state: it decodes, it does not resume training.
 */
public final class CompactExport {
    /** Header metadata key naming the weight format of a file sffn wrote. */
    public static final String WEIGHTS_KEY = "sffn_weights";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private CompactExport() {
    }

    /** Writes {@code source} as a new checkpoint directory {@code out} in {@code format}. */
    public static void write(Path source, Path out, WeightFormat format) throws IOException {
        if (Files.exists(out)) {
            throw new IllegalArgumentException("--out " + out + " exists; give a new directory (export never replaces one)");
        }
        JsonNode cfg = ModelCheckpoint.readConfig(source);
        Gpt model = ModelCheckpoint.read(source);
        CompactWeights weights = CompactWeights.of(model, format, source.resolve(ModelCheckpoint.MODEL));
        List<Object> tensors = new ArrayList<>();
        for (Parameter p : model.parameters()) {
            CompactWeight c = weights.of(p.value);
            switch (c) {
                case null -> tensors.add(p.value);
                case CompactWeight.Bf16Weight b -> tensors.add(b.bits());
                case CompactWeight.Int8Weight q -> {
                    tensors.add(q.q());
                    tensors.add(q.scale());
                }
            }
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("writer", "sffn");
        meta.put(WEIGHTS_KEY, format.label());
        if (format == WeightFormat.INT8) meta.put(Safetensors.INT8_GROUP_KEY, Integer.toString(Int8Groups.GROUP));
        ObjectNode config = ((ObjectNode) cfg).deepCopy();
        config.put("weights", format.label());
        AtomicDirectory.write(out, dir -> {
            Files.writeString(dir.resolve(ModelCheckpoint.CONFIG), JSON.writeValueAsString(config) + "\n");
            Path tok = source.resolve(TokenizerInfo.FILE_NAME);
            if (Files.isRegularFile(tok)) Files.copy(tok, dir.resolve(TokenizerInfo.FILE_NAME));
            Safetensors.writeTensors(dir.resolve(ModelCheckpoint.MODEL), tensors, meta);
        });
    }

    /** The weight format a checkpoint's model file was written in: its metadata says, else float32. */
    public static WeightFormat storedFormat(Path checkpoint) throws IOException {
        Path file = checkpoint.resolve(ModelCheckpoint.MODEL);
        if (!Files.isRegularFile(file)) return WeightFormat.FP32;
        try (SafetensorsFile f = Safetensors.open(file)) {
            String w = f.metadata().get(WEIGHTS_KEY);
            return w == null ? WeightFormat.FP32 : WeightFormat.parse(w);
        }
    }
}
