package sffn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sffn.kernels.backend.Backend;
import sffn.kernels.backend.CpuBackend;
import sffn.nn.Gpt;
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

    @Override
    public Integer call() throws Exception {
        TokenizerMatch.require(checkpoint, data);
        JsonNode cfg = ModelCheckpoint.readConfig(checkpoint);
        Gpt model = ModelCheckpoint.read(checkpoint);
        int t = seqLen != null ? seqLen
                : cfg.path("train").path("seq_len").asInt(model.config.maxPositionEmbeddings());
        if (!Validation.available(data)) {
            throw new IllegalArgumentException(data + " has no validation shards (*_val_*.bin); prepare it with sffn prepare");
        }
        try (Backend backend = new CpuBackend()) {
            Validation v = new Validation(model, data, batchSize, t, null);
            backend.prepare(v.graph().plan);
            long t0 = System.nanoTime();
            Validation.Result r = v.measure(backend, maxWindows);
            double seconds = (System.nanoTime() - t0) / 1e9;
            if (json) {
                ObjectNode n = new ObjectMapper().createObjectNode();
                n.put("val_loss", r.loss());
                n.put("val_ppl", r.perplexity());
                n.put("tokens", r.tokens());
                System.out.println(n);
            } else {
                System.out.printf(Locale.ROOT, "val loss %.4f, val ppl %.3f over %,d tokens (%d-token windows) in %.1f s%n",
                        r.loss(), r.perplexity(), r.tokens(), t, seconds);
            }
        }
        return 0;
    }
}
