package sffn.decode;

import java.util.ArrayList;
import java.util.List;
import sffn.kernels.IntTensor;
import sffn.kernels.Tensor;
import sffn.nn.config.ModelConfig;

/** The key and value caches of every layer, [batch, nkv, maxLen, headDim] each (see KvCache), and the write position. */
public final class KvCacheTensors {
    public final int batch;
    public final int maxLen;
    public final List<Tensor> keys = new ArrayList<>();
    public final List<Tensor> values = new ArrayList<>();
    /** The position of the next token to be written, shared by every sequence of the batch. */
    public final IntTensor pos = new IntTensor("kv.pos", 1);

    public KvCacheTensors(ModelConfig c, int batch, int maxLen) {
        if (maxLen > c.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("a prompt and continuation of " + maxLen + " tokens exceed the model's context of "
                    + c.maxPositionEmbeddings() + " tokens; shorten the prompt or --max-tokens");
        }
        this.batch = batch;
        this.maxLen = maxLen;
        for (int l = 0; l < c.numLayers(); l++) {
            keys.add(new Tensor("kv." + l + ".k", batch, c.numKvHeads(), maxLen, c.headDim()));
            values.add(new Tensor("kv." + l + ".v", batch, c.numKvHeads(), maxLen, c.headDim()));
        }
    }

    public int position() {
        return pos.data[0];
    }

    public long bytes() {
        long n = 0;
        for (Tensor t : keys) n += 4L * t.size();
        return 2 * n;
    }
}
