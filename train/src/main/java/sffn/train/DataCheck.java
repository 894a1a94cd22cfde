package sffn.train;

import java.io.IOException;
import java.nio.file.Path;
import sffn.nn.config.ModelConfig;
import sffn.train.data.ShardLoader;
import sffn.train.data.Split;

/**
 * Checks data and model against each other before any weight is drawn: initialising a big
 * structured model takes minutes (SVDs, QR decompositions), and a wrong vocabulary or sequence
 * length must not wait behind them.
 */
public final class DataCheck {
    private DataCheck() {
    }

    /**
     * @throws IllegalArgumentException when the sequence length exceeds the model's context, the
     *                                  shards' tokenizer has more ids than the model's vocabulary, a
     *                                  token id is out of range, or the shards are too short for one window
     */
    public static void require(Path data, ModelConfig model, TrainConfig cfg) throws IOException {
        if (cfg.seqLen() > model.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("training config: seq_len " + cfg.seqLen()
                    + " exceeds the model's max_position_embeddings " + model.maxPositionEmbeddings()
                    + "; lower --seq-len or use a model with a longer context");
        }
        new ShardLoader(data, Split.TRAIN, cfg.batchSize(), cfg.seqLen(), model.vocabSize());
    }
}
