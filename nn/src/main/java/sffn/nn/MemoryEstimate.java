package sffn.nn;

import java.util.Locale;
import sffn.nn.config.MethodConfig;
import sffn.nn.config.ModelConfig;

/**
 * The memory a model needs before it is allocated, so that a run too large for the JVM's heap is
 * refused with what to lower instead of dying of {@link OutOfMemoryError} halfway through setup.
 * The counts follow what {@link Gpt#forward} and its backward keep per token; they err low (scratch
 * buffers shared between layers are counted once), so a refusal is never a false alarm. Host
 * memory only: a TornadoVM device's own memory is checked by TornadoVM when buffers go up.
 *
 * @param weightBytes     parameters (with gradients and AdamW moments when training)
 * @param activationBytes activations and scratch of one batch
 */
public record MemoryEstimate(long weightBytes, long activationBytes) {

    public long total() {
        return weightBytes + activationBytes;
    }

    /** Training: value, gradient and two moments per parameter (and per guide), activations of batch x seqLen. */
    public static MemoryEstimate training(ModelConfig m, MethodConfig f, boolean guided, long batch, long seqLen) {
        long params = ModelStats.of(m, f).modelParams() + (guided ? guideParams(m, f) : 0);
        return new MemoryEstimate(4L * 4 * params, bytes(activations(m, f, batch, seqLen, true)));
    }

    /** Evaluation: the weights and the forward's activations of batch x seqLen. */
    public static MemoryEstimate evaluation(ModelConfig m, MethodConfig f, long batch, long seqLen) {
        return new MemoryEstimate(4L * ModelStats.of(m, f).modelParams(), bytes(activations(m, f, batch, seqLen, false)));
    }

    /** Decoding: weights, their pre-merged dense forms, a KV cache of batch x positions, and the prompt's forward. */
    public static MemoryEstimate decoding(ModelConfig m, MethodConfig f, long batch, long positions) {
        return decoding(m, f, batch, positions, 4);
    }

    /** With a key/value cache of {@code kvBytes} bytes per value (4 float32, 2 bfloat16). */
    public static MemoryEstimate decoding(ModelConfig m, MethodConfig f, long batch, long positions, int kvBytes) {
        long params = ModelStats.of(m, f).modelParams() + guideParams(m, f);
        double kv = 2.0 * m.numLayers() * batch * positions * m.numKvHeads() * m.headDim() * kvBytes / 4;
        return new MemoryEstimate(4L * params, bytes(kv + activations(m, f, batch, positions, false)));
    }

    /** Dense forms of the structured FFN linears (the self-guided guides, or the pre-merged weights). */
    private static long guideParams(ModelConfig m, MethodConfig f) {
        long structuredLayers = 0;
        for (int l = 0; l < m.numLayers(); l++) if (f.structuredAt(l)) structuredLayers++;
        return structuredLayers * ((long) m.hiddenDim() * m.fc1OutDim() + (long) m.ffnDim() * m.hiddenDim());
    }

    /** Floats of activations: per layer and token what the forward saves, plus logits and attention probabilities. */
    private static double activations(ModelConfig m, MethodConfig f, long batch, long seqLen, boolean backward) {
        double rows = (double) batch * seqLen;
        double c = m.hiddenDim();
        double perToken = 4 * c + m.qkvDim() + m.attnDim() + m.fc1OutDim() + m.ffnDim();
        double probs = (double) batch * m.numQHeads() * seqLen * seqLen;
        double layers = backward ? m.numLayers() : 1;
        double n = layers * (rows * perToken + probs) + rows * (m.vocabSize() + 2 * c);
        if (backward) n += rows * perToken + probs; // gradients of one layer's activations, reused by every layer
        return n;
    }

    /** Bytes of {@code floats} floats, saturating at Long.MAX_VALUE / 2 so that sums cannot overflow. */
    private static long bytes(double floats) {
        return (long) Math.min(4 * floats, Long.MAX_VALUE / 2.0);
    }

    /**
     * Refuses when the estimate exceeds what the JVM's heap can still take.
     *
     * @param what  the job, e.g. "training batch 16 x 256"
     * @param lower what the user can lower, e.g. "--batch-size or --seq-len"; null when nothing but the model
     */
    public void require(String what, String lower) {
        Runtime rt = Runtime.getRuntime();
        long available = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
        if (total() > available) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "%s needs about %s of memory (weights %s,"
                            + " activations %s) but Java may use only %s more; %suse a smaller model, or give Java"
                            + " more memory (SFFN_JAVA_OPTS=-Xmx<size>, at most the machine's RAM)",
                    what, size(total()), size(weightBytes), size(activationBytes), size(available),
                    lower == null ? "" : "lower " + lower + ", "));
        }
    }

    /** The advice an {@link OutOfMemoryError} gets: the same as a refusal, after the fact. */
    public static String outOfMemoryAdvice() {
        return "out of memory (Java may use " + size(Runtime.getRuntime().maxMemory()) + "); lower the batch size, the"
                + " sequence length or --max-tokens, use a smaller model, or give Java more memory (SFFN_JAVA_OPTS=-Xmx<size>)";
    }

    static String size(long bytes) {
        return bytes >= 1L << 30 ? String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30))
                : String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20));
    }
}
