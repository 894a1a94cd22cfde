package sffn.decode;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import sffn.kernels.IntTensor;
import sffn.kernels.ShortTensor;
import sffn.kernels.Tensor;
import sffn.kernels.plan.KernelCall.Bf16KvAppend;
import sffn.kernels.plan.KernelCall.Bf16KvAttention;
import sffn.kernels.plan.KernelCall.KvAppend;
import sffn.kernels.plan.KernelCall.KvAttention;
import sffn.kernels.plan.Plan;
import sffn.nn.config.ModelConfig;

/**
 * The key and value caches of every layer, [batch, nkv, maxLen, headDim] each (see KvCache), in
 * float32 or bfloat16, and the write position.
 */
public final class KvCacheTensors {
    /** How the cache stores keys and values: float32, or bfloat16 (half the bytes; rounded to nearest even). */
    public enum Format {
        FP32(4), BF16(2);

        public final int bytes;

        Format(int bytes) {
            this.bytes = bytes;
        }

        /** The name users type: fp32, bf16. */
        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static Format parse(String s) {
            for (Format f : values()) {
                if (f.label().equals(s.trim().toLowerCase(Locale.ROOT))) return f;
            }
            throw new IllegalArgumentException("unknown key/value cache format '" + s + "'; use fp32 or bf16");
        }
    }

    public final int batch;
    public final int maxLen;
    public final Format format;
    private final List<Tensor> keys = new ArrayList<>();
    private final List<Tensor> values = new ArrayList<>();
    private final List<ShortTensor> bf16Keys = new ArrayList<>();
    private final List<ShortTensor> bf16Values = new ArrayList<>();
    /** The position of the next token to be written, shared by every sequence of the batch. */
    public final IntTensor pos = new IntTensor("kv.pos", 1);

    public KvCacheTensors(ModelConfig c, int batch, int maxLen) {
        this(c, batch, maxLen, Format.FP32);
    }

    public KvCacheTensors(ModelConfig c, int batch, int maxLen, Format format) {
        if (maxLen > c.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("a prompt and continuation of " + maxLen + " tokens exceed the model's context of "
                    + c.maxPositionEmbeddings() + " tokens; shorten the prompt or --max-tokens");
        }
        this.batch = batch;
        this.maxLen = maxLen;
        this.format = format;
        for (int l = 0; l < c.numLayers(); l++) {
            int[] shape = {batch, c.numKvHeads(), maxLen, c.headDim()};
            if (format == Format.BF16) {
                bf16Keys.add(new ShortTensor("kv." + l + ".k", shape));
                bf16Values.add(new ShortTensor("kv." + l + ".v", shape));
            } else {
                keys.add(new Tensor("kv." + l + ".k", shape));
                values.add(new Tensor("kv." + l + ".v", shape));
            }
        }
    }

    /**
     * Adds layer {@code l}'s append of the new rows' keys and values (from {@code qkv}) and the
     * attention of those rows over the cache into {@code out}, {@code scores} their scratch.
     */
    public void appendAndAttend(Plan plan, int l, Tensor qkv, Tensor out, Tensor scores, int n, ModelConfig c) {
        int nq = c.numQHeads();
        int nkv = c.numKvHeads();
        int d = c.headDim();
        if (format == Format.BF16) {
            plan.add(new Bf16KvAppend(qkv, bf16Keys.get(l), bf16Values.get(l), pos, batch, n, maxLen, nq, nkv, d));
            plan.add(new Bf16KvAttention(qkv, bf16Keys.get(l), bf16Values.get(l), out, scores, pos, batch, n, maxLen, nq, nkv, d));
        } else {
            plan.add(new KvAppend(qkv, keys.get(l), values.get(l), pos, batch, n, maxLen, nq, nkv, d));
            plan.add(new KvAttention(qkv, keys.get(l), values.get(l), out, scores, pos, batch, n, maxLen, nq, nkv, d));
        }
    }

    public int position() {
        return pos.data[0];
    }

    /** Bytes of both caches over every layer. */
    public long bytes() {
        long n = 0;
        for (Tensor t : keys) n += t.size();
        for (ShortTensor t : bf16Keys) n += t.size();
        return 2 * n * format.bytes;
    }
}
