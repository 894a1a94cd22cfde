package sffn.nn;

import sffn.nn.config.FfnType;
import sffn.nn.config.MethodConfig;
import sffn.nn.config.ModelConfig;
import sffn.nn.config.Norm;
import sffn.nn.config.PositionEmbedding;

/**
 * Parameter and FLOP counts from the configs alone (no weights allocated), counted as the
 * paper's code counts them: model parameters are every tensor (biases and norms included, the
 * guide excluded); FFN parameters are the FFN matrices only; forward FLOPs per token count the
 * matmuls, i.e. 2 x (attention projections + the scores and weighted sum over the full context
 * + FFN matrices + logits); training FLOPs are 3 x forward per token.
 */
public record ModelStats(long modelParams, long ffnParams, long denseFfnParams, double forwardFlopsPerToken) {

    public static ModelStats of(ModelConfig m, MethodConfig method) {
        return of(m, method, m.maxPositionEmbeddings());
    }

    /** Counts with attention over {@code seqLen} tokens of context. */
    public static ModelStats of(ModelConfig m, MethodConfig method, int seqLen) {
        long c = m.hiddenDim();
        long attn = 2L * m.attnDim() * c + 2L * m.headDim() * m.numKvHeads() * c;
        long ffn = 0;
        long denseFfn = 0;
        for (int l = 0; l < m.numLayers(); l++) {
            FfnType t = method.structuredAt(l) ? method.name() : FfnType.LINEAR;
            ffn += linearParams(t, method, (int) c, m.fc1OutDim()) + linearParams(t, method, m.ffnDim(), (int) c);
            denseFfn += c * m.fc1OutDim() + (long) m.ffnDim() * c;
        }
        long vocab = (long) m.vocabSize() * c;
        long norms = (m.ln() == Norm.LAYERNORM ? 2 : 1) * c * (2L * m.numLayers() + 1);
        long biases = m.bias() ? m.numLayers() * ((long) m.qkvDim() + c + m.fc1OutDim() + c) : 0;
        long positions = m.posEmb() == PositionEmbedding.ABSOLUTE ? (long) m.maxPositionEmbeddings() * c : 0;
        long model = m.numLayers() * attn + ffn + vocab * (m.tieWordEmbeddings() ? 1 : 2) + norms + biases + positions;
        double sdp = 2.0 * seqLen * m.attnDim();
        double flops = 2.0 * m.numLayers() * (attn + sdp) + 2.0 * ffn + 2.0 * vocab;
        return new ModelStats(model, ffn, denseFfn, flops);
    }

    /** Weight elements of one bias-free linear of the given structure. */
    public static long linearParams(FfnType type, MethodConfig method, int in, int out) {
        return switch (type) {
            case LINEAR -> (long) in * out;
            case LOWRANK -> (long) method.rank() * (in + out);
            case BLOCKDENSE -> (long) method.rank() * in / method.nblocks() + (long) out * method.rank();
            case BLOCKSHUFFLE -> in < out
                    ? (long) in * in / method.nblocks() + (long) out * in / method.nblocks()
                    : (long) out * in / method.nblocks() + (long) out * out / method.nblocks();
        };
    }

    /** FFN parameters over those of the dense FFN. */
    public double ffnRatio() {
        return (double) ffnParams / denseFfnParams;
    }

    public double trainingFlops(double tokens) {
        return 3 * forwardFlopsPerToken * tokens;
    }

    /** Guide FLOPs per token of one training step (forward and backward) while every guide runs. */
    public static double guideFlopsPerToken(ModelConfig m, MethodConfig method) {
        long g = 0;
        for (int l = 0; l < m.numLayers(); l++) {
            if (method.structuredAt(l)) g += (long) m.hiddenDim() * m.fc1OutDim() + (long) m.ffnDim() * m.hiddenDim();
        }
        return 3 * 2.0 * g;
    }
}
