package sffn.decode;

import java.util.ArrayList;
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

    public Generator(Gpt model, Backend backend, MergedWeights merged, MergePolicy policy) {
        this.model = model;
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
        KvCacheTensors cache = new KvCacheTensors(model.config, batch, prompt.length + maxTokens);
        DecodeGraph prefill = new DecodeGraph(model, cache, merged, policy, prompt.length);
        DecodeGraph step = new DecodeGraph(model, cache, merged, policy, 1);
        backend.prepare(prefill.plan);
        backend.prepare(step.plan);
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
        backend.release(prefill.plan);
        backend.release(step.plan);
        List<int[]> tokens = new ArrayList<>();
        for (List<Integer> l : out) tokens.add(l.stream().mapToInt(Integer::intValue).toArray());
        return new Result(tokens, prompt.length, (t1 - t0) / 1e9, (t2 - t1) / 1e9, steps, batch,
                prefill.mergedLinears(), step.mergedLinears());
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
            if (out.get(b).size() >= maxTokens) done[b] = true;
            else live++;
        }
        return live;
    }
}
