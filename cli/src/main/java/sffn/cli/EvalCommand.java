package sffn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import sffn.decode.CompactWeights;
import sffn.kernels.WeightFormat;
import sffn.kernels.backend.Backend;
import sffn.nn.Gpt;
import sffn.nn.MemoryEstimate;
import sffn.nn.io.ModelCheckpoint;
import sffn.train.Validation;
import sffn.train.data.TokenizerMatch;

/** {@code sffn eval}: validation loss and perplexity of a saved model. */
@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Validation loss and perplexity of a checkpoint on the validation shards of a data directory.")
public final class EvalCommand implements Callable<Integer> {

    @Option(names = "--checkpoint", required = true, paramLabel = "<dir>", description = "Checkpoint directory.")
    Path checkpoint;

    @Option(names = "--data", required = true, paramLabel = "<dir>", description = "Directory of token shards (its _val_ shards are used).")
    Path data;

    @Option(names = "--max-windows", paramLabel = "<n>", description = "Evaluate only the first n validation windows (default: all).")
    int maxWindows;

    @Option(names = "--seq-len", paramLabel = "<n>", description = "Window length (default: the training seq_len).")
    Integer seqLen;

    @Option(names = "--batch-size", paramLabel = "<n>", description = "Windows per forward pass (default 8).")
    int batchSize = 8;

    @Option(names = "--json", description = "Print one JSON line: val_loss, val_ppl, tokens.")
    boolean json;

    @Mixin
    WeightsOption weightsOption = new WeightsOption();

    @Mixin
    BackendOptions backendOptions = new BackendOptions();

    @Override
    public Integer call() throws Exception {
        backendOptions.applyThreads(); // --threads sizes the kernel pool before anything starts it
        if (maxWindows < 0) throw new IllegalArgumentException("--max-windows must be 0 (all) or positive, got " + maxWindows);
        if (batchSize < 1) throw new IllegalArgumentException("--batch-size must be positive, got " + batchSize);
        if (seqLen != null && seqLen < 1) throw new IllegalArgumentException("--seq-len must be positive, got " + seqLen);
        TokenizerMatch.require(checkpoint, data);
        JsonNode cfg = ModelCheckpoint.readConfig(checkpoint);
        WeightFormat format = weightsOption.resolve(checkpoint);
        Gpt model = ModelCheckpoint.read(checkpoint);
        // Rounds the model's weights in place to what decoding in this format computes with; the
        // float32 kernels then evaluate exactly that model (up to the order of their sums).
        CompactWeights.of(model, format, checkpoint.resolve(ModelCheckpoint.MODEL));
        int t = seqLen != null ? seqLen
                : cfg.path("train").path("seq_len").asInt(model.config.maxPositionEmbeddings());
        if (t < 1 || t > model.config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("window length " + t + " is outside the model's context of 1.."
                    + model.config.maxPositionEmbeddings() + " tokens; pass --seq-len");
        }
        if (!Validation.available(data)) {
            throw new IllegalArgumentException(data + " has no validation shards (*_val_*.bin); prepare it with sffn prepare");
        }
        try (Backend backend = backendOptions.create()) {
            int batch = maxWindows > 0 ? Math.min(batchSize, maxWindows) : batchSize;
            MemoryEstimate.evaluation(model.config, model.method, batch, t)
                    .require("evaluating batch " + batch + " x " + t, "--batch-size or --seq-len");
            Validation v = new Validation(model, data, batch, t, null);
            backend.prepare(v.graph().plan);
            long t0 = System.nanoTime();
            if (maxWindows > v.windowCount()) {
                System.err.println("note: --max-windows " + maxWindows + " is more than the " + v.windowCount()
                        + " validation windows; all of them are evaluated");
            }
            Validation.Result r = v.measure(backend, maxWindows);
            double seconds = (System.nanoTime() - t0) / 1e9;
            if (json) {
                ObjectNode n = new ObjectMapper().createObjectNode();
                n.put("val_loss", r.loss());
                n.put("val_ppl", r.perplexity());
                n.put("tokens", r.tokens());
                n.put("weights", format.label());
                System.out.println(n);
            } else {
                System.out.printf(Locale.ROOT, "val loss %.4f, val ppl %.3f over %,d tokens (%d-token windows, %s weights) in %.1f s%n",
                        r.loss(), r.perplexity(), r.tokens(), t, format.label(), seconds);
            }
        }
        return 0;
    }
}
