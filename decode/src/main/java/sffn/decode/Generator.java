package sffn.decode;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.List;
import sffn.kernels.backend.Backend;
import sffn.nn.Gpt;
import sffn.nn.layers.LinearLayer;

/**
 * Generation with a KV cache: the prompt is prefilled in one pass, then every sequence of the
 * batch advances one token per step until a stop token or the token limit. Each sequence
 * samples with its own generator (seed + sequence index), so batch members differ.
 */
public final class Generator {

    /** Called with each new token of each sequence as it is produced. */
    @FunctionalInterface
    public interface TokenSink {
        void accept(int sequence, int token);

        /** Asked after each accepted token: true ends that sequence there (e.g. a stop string was produced). */
        default boolean stop(int sequence) {
            return false;
        }
    }

    /**
     * @param tokens           generated tokens per sequence (stop token excluded)
     * @param prefillSeconds   wall time of the prompt pass
     * @param decodeSeconds    wall time of the one-token steps
     * @param decodeSteps      one-token steps run
     */
    public record Result(List<int[]> tokens, int promptTokens, double prefillSeconds, double decodeSeconds, int decodeSteps,
                         int batch, int mergedInPrefill, int mergedInDecode) {
        public double prefillTokensPerSecond() {
            return batch * promptTokens / prefillSeconds;
        }

        /** Tokens produced per second by the decode steps, over all sequences. */
        public double decodeTokensPerSecond() {
            return decodeSteps == 0 ? Double.NaN : batch * (double) decodeSteps / decodeSeconds;
        }
    }

    private final Gpt model;
    private final Backend backend;
    private final MergedWeights merged;
    private final MergePolicy policy;
    private final CompactWeights weights;
    private final KvCacheTensors.Format cacheFormat;
    /** Kept across calls, so that a device compiles the one-token step once and each prompt length once. */
    private KvCacheTensors cache;
    private DecodeGraph step;
    private final Map<Integer, DecodeGraph> prefills = new HashMap<>();

    public Generator(Gpt model, Backend backend, MergedWeights merged, MergePolicy policy) {
        this(model, backend, merged, policy, CompactWeights.none());
    }

    /** With the products reading {@code weights} (built on this model and these merged weights). */
    public Generator(Gpt model, Backend backend, MergedWeights merged, MergePolicy policy, CompactWeights weights) {
        this(model, backend, merged, policy, weights, KvCacheTensors.Format.FP32);
    }

    /** ... and the key/value cache in {@code cacheFormat}. */
    public Generator(Gpt model, Backend backend, MergedWeights merged, MergePolicy policy, CompactWeights weights,
                     KvCacheTensors.Format cacheFormat) {
        this.cacheFormat = cacheFormat;
        this.model = model;
        this.weights = weights;
        this.backend = backend;
        this.merged = merged;
        this.policy = policy;
        // Decoding runs the model as saved: every guide on at its saved weight.
        for (LinearLayer l : model.structuredFfnLinears()) {
            if (l.guide() != null) model.scalars().data[l.switchSlot()] = 1f;
        }
    }

    public Gpt model() {
        return model;
    }

    public CompactWeights weights() {
        return weights;
    }

    public KvCacheTensors.Format cacheFormat() {
        return cacheFormat;
    }

    /**
     * Generates up to {@code maxTokens} tokens after {@code prompt} for each of {@code batch}
     * copies of it; {@code stopToken} (-1 for none) ends a sequence.
     */
    public Result generate(int[] prompt, int batch, int maxTokens, Sampler.Settings settings, int stopToken, TokenSink sink) {
        if (prompt.length == 0) throw new IllegalArgumentException("the prompt is empty; give at least one token");
        if (batch < 1) throw new IllegalArgumentException("--batch must be at least 1, got " + batch);
        int vocab = model.config.vocabSize();
        for (int t : prompt) {
            if (t < 0 || t >= vocab) throw new IllegalArgumentException("prompt token " + t + " is outside the model's vocabulary of " + vocab);
        }
        int context = model.config.maxPositionEmbeddings();
        if (prompt.length + maxTokens > context) {
            throw new IllegalArgumentException("a prompt and continuation of " + (prompt.length + maxTokens)
                    + " tokens exceed the model's context of " + context + " tokens; shorten the prompt or --max-tokens");
        }
        ensureCache(batch, prompt.length + maxTokens);
        DecodeGraph prefill = prefills.computeIfAbsent(prompt.length, n -> {
            DecodeGraph g = new DecodeGraph(model, cache, merged, policy, weights, n);
            backend.prepare(g.plan);
            return g;
        });
        Sampler[] samplers = new Sampler[batch];
        for (int b = 0; b < batch; b++) {
            samplers[b] = new Sampler(new Sampler.Settings(settings.temperature(), settings.topK(), settings.topP(),
                    settings.seed() + b));
        }
        List<List<Integer>> out = new ArrayList<>();
        boolean[] done = new boolean[batch];
        for (int b = 0; b < batch; b++) out.add(new ArrayList<>());

        long t0 = System.nanoTime();
        for (int b = 0; b < batch; b++) System.arraycopy(prompt, 0, prefill.tokens.data, b * prompt.length, prompt.length);
        cache.pos.data[0] = 0;
        backend.run(prefill.plan);
        backend.toHost(prefill.plan, prefill.logits);
        int[] next = new int[batch];
        int live = pick(prefill.logits.data, samplers, next, done, out, stopToken, sink, vocab, maxTokens);
        long t1 = System.nanoTime();
        int steps = 0;
        int pos = prompt.length;
        while (live > 0) {
            System.arraycopy(next, 0, step.tokens.data, 0, batch);
            cache.pos.data[0] = pos;
            backend.run(step.plan);
            backend.toHost(step.plan, step.logits);
            live = pick(step.logits.data, samplers, next, done, out, stopToken, sink, vocab, maxTokens);
            pos++;
            steps++;
        }
        long t2 = System.nanoTime();
        List<int[]> tokens = new ArrayList<>();
        for (List<Integer> l : out) tokens.add(l.stream().mapToInt(Integer::intValue).toArray());
        return new Result(tokens, prompt.length, (t1 - t0) / 1e9, (t2 - t1) / 1e9, steps, batch,
                prefill.mergedLinears(), step.mergedLinears());
    }

    /** A cache for {@code batch} sequences of at least {@code tokens} positions (a power of two, within the context). */
    private void ensureCache(int batch, int tokens) {
        if (cache != null && cache.batch == batch && cache.maxLen >= tokens) return;
        release();
        int capacity = Math.max(64, Integer.highestOneBit(Math.max(1, tokens - 1)) << 1);
        cache = new KvCacheTensors(model.config, batch, Math.min(capacity, model.config.maxPositionEmbeddings()), cacheFormat);
        step = new DecodeGraph(model, cache, merged, policy, weights, 1);
        backend.prepare(step.plan);
    }

    /** Releases the plans this generator prepared on the backend. */
    public void release() {
        if (step != null) backend.release(step.plan);
        for (DecodeGraph g : prefills.values()) backend.release(g.plan);
        prefills.clear();
        step = null;
        cache = null;
    }

    /** Samples each live sequence's next token; returns how many sequences are still going. */
    private static int pick(float[] logits, Sampler[] samplers, int[] next, boolean[] done, List<List<Integer>> out,
                            int stopToken, TokenSink sink, int vocab, int maxTokens) {
        int live = 0;
        for (int b = 0; b < samplers.length; b++) {
            if (done[b]) continue;
            int t = samplers[b].sample(logits, b * vocab, vocab);
            next[b] = t;
            if (t == stopToken) {
                done[b] = true;
                continue;
            }
            out.get(b).add(t);
            if (sink != null) sink.accept(b, t);
            if (out.get(b).size() >= maxTokens || sink != null && sink.stop(b)) done[b] = true;
            else live++;
        }
        return live;
    }
}
