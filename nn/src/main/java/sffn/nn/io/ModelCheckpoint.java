package sffn.nn.io;

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
import sffn.kernels.Tensor;
import sffn.nn.Gpt;
import sffn.nn.Parameter;
import sffn.nn.config.ConfigException;
import sffn.nn.config.JsonFields;
import sffn.nn.config.MethodConfig;
import sffn.nn.config.ModelConfig;

/**
 * The model part of a checkpoint directory: {@code config.json} ({@code model}, {@code method}
 * and whatever else the writer adds, e.g. the training config) and {@code model.safetensors}
 * with every parameter under its checkpoint name ({@code guide} tensors while self-guided
 * training runs).
 */
public final class ModelCheckpoint {
    public static final String CONFIG = "config.json";
    public static final String MODEL = "model.safetensors";
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private ModelCheckpoint() {
    }

    /** Writes config.json (model, method, then {@code extra}'s fields) and model.safetensors into {@code dir}. */
    public static void write(Path dir, Gpt model, ObjectNode extra) throws IOException {
        ObjectNode cfg = JSON.createObjectNode();
        cfg.set("model", model.config.toJson());
        cfg.set("method", model.method.toJson());
        if (extra != null) cfg.setAll(extra);
        Files.writeString(dir.resolve(CONFIG), JSON.writeValueAsString(cfg) + "\n");
        List<Tensor> tensors = new ArrayList<>();
        for (Parameter p : model.parameters()) tensors.add(p.value);
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("writer", "sffn");
        Safetensors.write(dir.resolve(MODEL), tensors, meta);
    }

    /** The parsed config.json of a checkpoint directory. */
    public static JsonNode readConfig(Path dir) throws IOException {
        if (!CheckpointLock.recoverIfFree(dir)) {
            // A writer holds the directory; during its swap the directory is briefly absent.
            for (int i = 0; i < 100 && !Files.isDirectory(dir); i++) {
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("checkpoint " + dir + " does not exist or is not a directory");
        }
        Path file = dir.resolve(CONFIG);
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(file + ": missing; " + dir + " is not an sffn checkpoint directory");
        }
        return JsonFields.read(file).node();
    }

    public static ModelConfig modelConfig(Path dir, JsonNode cfg) {
        Path file = dir.resolve(CONFIG);
        if (!cfg.has("model")) throw new ConfigException(file + ": field 'model' is missing");
        return ModelConfig.from(new JsonFields(file + " (model)", cfg.get("model")));
    }

    public static MethodConfig methodConfig(Path dir, JsonNode cfg) {
        Path file = dir.resolve(CONFIG);
        if (!cfg.has("method")) throw new ConfigException(file + ": field 'method' is missing");
        return MethodConfig.from(new JsonFields(file + " (method)", cfg.get("method")));
    }

    /**
     * Builds the model a checkpoint describes and loads its weights; guides are restored when
     * the file has them. Missing, extra or mis-shaped tensors fail with the tensor and file named.
     */
    public static Gpt read(Path dir) throws IOException {
        JsonNode cfg = readConfig(dir);
        ModelConfig mc = modelConfig(dir, cfg);
        MethodConfig fc = methodConfig(dir, cfg);
        fc.checkAgainst(mc, dir.resolve(CONFIG) + " (method)");
        Path file = dir.resolve(MODEL);
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException(file + ": missing from the checkpoint");
        // The file must be able to hold the model config.json describes; checked before allocating it.
        // An exported decode checkpoint ("weights": bf16 or int8) stores at least 2 or 1 bytes a weight.
        String weights = cfg.hasNonNull("weights") ? cfg.get("weights").asText() : "fp32";
        int bytesPerWeight = switch (weights) {
            case "bf16" -> 2;
            case "int8" -> 1;
            default -> 4;
        };
        long params = sffn.nn.ModelStats.of(mc, fc).modelParams();
        long need = bytesPerWeight * params;
        if (Files.size(file) < need) {
            throw new CheckpointFormatException(file, "holds " + Files.size(file) + " bytes, fewer than the " + need
                    + " the weights of the model in " + dir.resolve(CONFIG) + " take; the files do not belong together"
                    + " or one is damaged");
        }
        new sffn.nn.MemoryEstimate(4 * params * 2, 0).require("loading " + file, null);
        Gpt model = new Gpt(mc, fc);
        boolean guided;
        try (SafetensorsFile st = Safetensors.open(file)) {
            guided = st.names().stream().anyMatch(n -> n.endsWith(".guide"));
        }
        if (guided) {
            model.attachGuides();
            // The guide weight the model was last run with; written by the trainer while guided.
            model.scalars().data[sffn.kernels.StepScalars.GUIDE_ALPHA] = (float) cfg.path("guide_weight").asDouble(0);
        }
        List<Tensor> expected = new ArrayList<>();
        for (Parameter p : model.parameters()) expected.add(p.value);
        Safetensors.loadInto(file, expected);
        requireFinite(file, expected);
        return model;
    }

    /**
     * Fails on the first NaN or infinite element: such weights only give NaN losses and garbage
     * text, and come from a run that diverged or a damaged file.
     */
    public static void requireFinite(Path file, List<Tensor> tensors) {
        for (Tensor t : tensors) {
            float[] d = t.data;
            for (int i = 0; i < d.length; i++) {
                if (!Float.isFinite(d[i])) {
                    throw new CheckpointFormatException(file, "tensor " + t.name + " holds " + d[i] + " at element " + i
                            + "; the weights are not finite (saved after training diverged, or the file is damaged)."
                            + " Use an earlier checkpoint or train again with a lower learning rate");
                }
            }
        }
    }
}
