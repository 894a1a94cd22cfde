package sffn.nn.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The transformer's shape (the paper's "gpt2" family). Field names follow the JSON config.
 *
 * @param attnDim          query heads x head dim; head dim = attnDim / numQHeads
 * @param ffnDim           FFN width; with SwiGLU, fc1 produces 2 x ffnDim outputs
 * @param initializerRange std of the normal init of embeddings and linears
 */
public record ModelConfig(
        int hiddenDim,
        int attnDim,
        int ffnDim,
        int numQHeads,
        int numKvHeads,
        int numLayers,
        int maxPositionEmbeddings,
        int vocabSize,
        boolean tieWordEmbeddings,
        Norm ln,
        Activation act,
        boolean bias,
        PositionEmbedding posEmb,
        double rotaryBase,
        double initializerRange) {

    public ModelConfig {
        String src = "model config";
        require(hiddenDim > 0, src, "hidden_dim", "must be positive, got " + hiddenDim);
        require(attnDim > 0, src, "attn_dim", "must be positive, got " + attnDim);
        require(ffnDim > 0, src, "ffn_dim", "must be positive, got " + ffnDim);
        require(numQHeads > 0, src, "num_q_heads", "must be positive, got " + numQHeads);
        require(numKvHeads > 0, src, "num_kv_heads", "must be positive, got " + numKvHeads);
        require(numLayers > 0, src, "num_layers", "must be positive, got " + numLayers);
        require(maxPositionEmbeddings > 0, src, "max_position_embeddings", "must be positive, got " + maxPositionEmbeddings);
        require(vocabSize > 0, src, "vocab_size", "must be positive, got " + vocabSize);
        require(attnDim % numQHeads == 0, src, "attn_dim",
                "(" + attnDim + ") must be divisible by num_q_heads (" + numQHeads + ")");
        require(numQHeads % numKvHeads == 0, src, "num_q_heads",
                "(" + numQHeads + ") must be a multiple of num_kv_heads (" + numKvHeads + ")");
        require(posEmb != PositionEmbedding.ROPE || (attnDim / numQHeads) % 2 == 0, src, "attn_dim",
                "gives an odd head dimension " + (attnDim / numQHeads) + "; rope needs an even one");
        require(rotaryBase > 1 && Double.isFinite(rotaryBase), src, "rotary_base",
                "must be a finite number greater than 1, got " + rotaryBase);
        require(initializerRange > 0 && Double.isFinite(initializerRange), src, "initializer_range",
                "must be a positive finite number, got " + initializerRange);
        // Every tensor is one Java array: its element count must fit an int.
        fits(src, "vocab_size", vocabSize, "hidden_dim", hiddenDim);
        fits(src, "max_position_embeddings", maxPositionEmbeddings, "hidden_dim", hiddenDim);
        fits(src, "max_position_embeddings", maxPositionEmbeddings, "head dimension", attnDim / numQHeads);
        fits(src, "num_q_heads + 2 x num_kv_heads head dims", (long) (numQHeads + 2L * numKvHeads) * (attnDim / numQHeads),
                "hidden_dim", hiddenDim);
        fits(src, "ffn_dim", 2L * ffnDim, "hidden_dim", hiddenDim);
        if (ln == null || act == null || posEmb == null) throw new ConfigException(src + ": ln, act and pos_emb are required");
    }

    private static void fits(String src, String a, long x, String b, long y) {
        if (x * y > Integer.MAX_VALUE - 8 || x > Integer.MAX_VALUE || y > Integer.MAX_VALUE) {
            String field = a.contains(" ") ? b : a;
            throw new ConfigException(src + ": field '" + field + "' is too large: " + a + " (" + x + ") x " + b + " (" + y
                    + ") = " + x * y + " elements, more than one tensor can hold (2^31 - 9); use a smaller model");
        }
    }

    private static void require(boolean ok, String src, String field, String problem) {
        if (!ok) throw new ConfigException(src + ": field '" + field + "' " + problem);
    }

    public int headDim() {
        return attnDim / numQHeads;
    }

    /** Rows of the fused qkv projection: q heads, then k heads, then v heads. */
    public int qkvDim() {
        return (numQHeads + 2 * numKvHeads) * headDim();
    }

    /** fc1's output width: 2 x ffnDim with SwiGLU. */
    public int fc1OutDim() {
        return act == Activation.SWIGLU ? 2 * ffnDim : ffnDim;
    }

    public static ModelConfig read(Path file) {
        return from(JsonFields.read(file));
    }

    public static ModelConfig from(JsonFields f) {
        try {
            int hidden = f.positive("hidden_dim");
            ModelConfig c = new ModelConfig(
                    hidden,
                    f.positive("attn_dim", hidden),
                    f.positive("ffn_dim"),
                    f.positive("num_q_heads"),
                    f.has("num_kv_heads") ? f.positive("num_kv_heads") : f.positive("num_q_heads"),
                    f.positive("num_layers"),
                    f.positive("max_position_embeddings"),
                    f.positive("vocab_size"),
                    f.bool("tie_word_embeddings", true),
                    f.choice("ln", Norm.class, Norm.LAYERNORM),
                    f.choice("act", Activation.class, Activation.GELU),
                    f.bool("bias", false),
                    f.choice("pos_emb", PositionEmbedding.class, PositionEmbedding.ROPE),
                    f.number("rotary_base", 10000),
                    f.number("initializer_range", 0.02));
            f.rejectUnknown();
            return c;
        } catch (ConfigException e) {
            throw e.getMessage().startsWith("model config:")
                    ? new ConfigException(f.source() + e.getMessage().substring("model config".length()))
                    : e;
        }
    }

    public ObjectNode toJson() {
        ObjectNode n = JsonFields.MAPPER.createObjectNode();
        n.put("hidden_dim", hiddenDim);
        n.put("attn_dim", attnDim);
        n.put("ffn_dim", ffnDim);
        n.put("num_q_heads", numQHeads);
        n.put("num_kv_heads", numKvHeads);
        n.put("num_layers", numLayers);
        n.put("max_position_embeddings", maxPositionEmbeddings);
        n.put("vocab_size", vocabSize);
        n.put("tie_word_embeddings", tieWordEmbeddings);
        n.put("ln", ln.name().toLowerCase(Locale.ROOT));
        n.put("act", act.name().toLowerCase(Locale.ROOT));
        n.put("bias", bias);
        n.put("pos_emb", posEmb.name().toLowerCase(Locale.ROOT));
        n.put("rotary_base", rotaryBase);
        n.put("initializer_range", initializerRange);
        return n;
    }
}
