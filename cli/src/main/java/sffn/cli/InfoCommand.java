package sffn.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sffn.nn.ModelStats;
import sffn.nn.config.MethodConfig;
import sffn.nn.config.ModelConfig;

/** {@code sffn info}: parameters and FLOPs of a model, as the paper's Table 1 counts them. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Print model and FFN parameters, the FFN ratio to dense, and forward/training FLOPs.")
public final class InfoCommand implements Callable<Integer> {

    @Option(names = "--config", required = true, paramLabel = "<model.json>", description = "Model config (JSON).")
    Path config;

    @Option(names = "--method", paramLabel = "<method.json>", description = "FFN method config (JSON); dense when omitted.")
    Path method;

    @Option(names = "--tokens", paramLabel = "<count>", description = "Training tokens for the total training FLOPs, e.g. 25.5e9.")
    Double tokens;

    @Option(names = "--json", description = "Print one JSON object instead of a table.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (tokens != null) OptionRanges.within("--tokens", tokens, 1, 1e30);
        ModelConfig m = ModelConfig.read(config);
        MethodConfig f = method == null ? MethodConfig.DENSE : MethodConfig.read(method);
        f.checkAgainst(m, method == null ? "method" : method.toString());
        ModelStats s = ModelStats.of(m, f);
        if (json) {
            ObjectNode n = new ObjectMapper().createObjectNode();
            n.put("model_params", s.modelParams());
            n.put("ffn_params", s.ffnParams());
            n.put("ffn_ratio", s.ffnRatio());
            n.put("forward_flops_per_token", s.forwardFlopsPerToken());
            if (tokens != null) {
                n.put("tokens", tokens);
                n.put("training_flops", s.trainingFlops(tokens));
            }
            System.out.println(n);
            return 0;
        }
        String name = f.structured() ? describe(f) : "dense";
        System.out.printf(Locale.ROOT, "model      %s (hidden %d, ffn %d, %d layers, %d heads, vocab %d, context %d)%n",
                config.getFileName(), m.hiddenDim(), m.ffnDim(), m.numLayers(), m.numQHeads(), m.vocabSize(),
                m.maxPositionEmbeddings());
        System.out.printf(Locale.ROOT, "method     %s%n", name);
        System.out.printf(Locale.ROOT, "params     %,d (%s)%n", s.modelParams(), millions(s.modelParams()));
        System.out.printf(Locale.ROOT, "ffn params %,d (%s), %.1f%% of dense FFN%n", s.ffnParams(), millions(s.ffnParams()),
                100 * s.ffnRatio());
        System.out.printf(Locale.ROOT, "forward    %.4g FLOPs per token (matmuls incl. attention scores and logits)%n",
                s.forwardFlopsPerToken());
        System.out.printf(Locale.ROOT, "training   %.4g FLOPs per token (3 x forward)%n", s.trainingFlops(1));
        if (tokens != null) {
            System.out.printf(Locale.ROOT, "total      %.2e FLOPs for %.4g tokens%n", s.trainingFlops(tokens), tokens);
        }
        return 0;
    }

    /** Millions as the paper prints them (whole numbers), with decimals for small models. */
    static String millions(long n) {
        return n >= 10_000_000 ? String.format(Locale.ROOT, "%.0fM", n / 1e6) : String.format(Locale.ROOT, "%.2fM", n / 1e6);
    }

    static String describe(MethodConfig f) {
        return switch (f.name()) {
            case LOWRANK -> "lowrank R=" + f.rank();
            case BLOCKDENSE -> "blockdense B=" + f.nblocks() + " R=" + f.rank();
            case BLOCKSHUFFLE -> "blockshuffle B=" + f.nblocks();
            case LINEAR -> "dense";
        } + (f.firstLayerDense() ? " (first layer dense)" : "");
    }
}
