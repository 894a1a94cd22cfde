package sffn.train;

import java.io.IOException;
import java.nio.file.Path;
import sffn.kernels.backend.Backend;
import sffn.nn.Buffers;
import sffn.nn.EvalGraph;
import sffn.nn.Gpt;
import sffn.train.data.ShardLoader;
import sffn.train.data.Split;
import sffn.train.dist.Collective;
import sffn.train.dist.SingleProcess;

/**
 * Validation loss over the first windows of a data set's validation shards, always the same
 * windows in the same order, so numbers from different runs and backends compare.
 */
public final class Validation {

    /** Mean loss per token over {@code tokens} validation tokens. */
    public record Result(double loss, long tokens) {
        public double perplexity() {
            return Math.exp(loss);
        }
    }

    private final ShardLoader data;
    private final EvalGraph graph;
    private final int seqLen;

    /**
     * @param buffers shared with another graph of the model to save memory, or null for its own
     */
    public Validation(Gpt model, Path dataDir, int batchSize, int seqLen, Buffers buffers) throws IOException {
        int vocab = model.config.vocabSize();
        ShardLoader probe = new ShardLoader(dataDir, Split.VAL, 1, seqLen, vocab);
        int batch = Math.min(batchSize, probe.windowCount());
        this.data = batch == 1 ? probe : new ShardLoader(dataDir, Split.VAL, batch, seqLen, vocab);
        this.graph = new EvalGraph(model, batch, seqLen, buffers == null ? new Buffers() : buffers);
        this.seqLen = seqLen;
    }

    /** Whether a data directory has validation shards at all ({@code prepare --val-fraction 0} makes none). */
    public static boolean available(Path dataDir) throws IOException {
        if (!java.nio.file.Files.isDirectory(dataDir)) ShardLoader.findShards(dataDir, Split.VAL); // says what is wrong
        return ShardLoader.hasShards(dataDir, Split.VAL);
    }

    public EvalGraph graph() {
        return graph;
    }

    public int windowCount() {
        return data.windowCount();
    }

    /** Loss over the first batch of windows: a cheap check that weights still give a finite loss. */
    public Result firstBatch(Backend backend) {
        return measure(backend, Math.min(data.batchSize(), data.windowCount()));
    }

    /**
     * Loss over the first {@code maxWindows} windows (0: all), each window counted once whatever
     * the batch size: a last, partial batch is filled with windows from the start and only its
     * first rows count.
     */
    public Result measure(Backend backend, int maxWindows) {
        return measure(backend, maxWindows, new SingleProcess());
    }

    /**
     * As {@link #measure(Backend, int)}, with the batches dealt round-robin over the ranks and the
     * loss sums added up: every rank gets the same result, which equals one process's up to the
     * order of the double additions.
     */
    public Result measure(Backend backend, int maxWindows, Collective comm) {
        if (maxWindows < 0) throw new IllegalArgumentException("validation windows must not be negative, got " + maxWindows);
        int batch = data.batchSize();
        int windows = maxWindows == 0 ? data.windowCount() : Math.min(maxWindows, data.windowCount());
        int batches = (windows + batch - 1) / batch;
        double sum = 0;
        for (int i = comm.rank(); i < batches; i += comm.size()) {
            int done = i * batch;
            data.seek(new ShardLoader.Position(0, done));
            data.next(graph.tokens.data, graph.targets.data);
            backend.run(graph.plan);
            backend.toHost(graph.plan, graph.losses);
            int rows = Math.min(batch, windows - done) * seqLen;
            float[] l = graph.losses.data;
            for (int r = 0; r < rows; r++) sum += l[r];
        }
        sum = comm.allReduceSum(sum);
        long count = (long) windows * seqLen;
        return new Result(sum / count, count);
    }
}
