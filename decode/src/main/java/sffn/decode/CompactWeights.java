package sffn.decode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import sffn.kernels.ByteTensor;
import sffn.kernels.CompactWeight;
import sffn.kernels.ShortTensor;
import sffn.kernels.Tensor;
import sffn.kernels.WeightFormat;
import sffn.kernels.plan.KernelCall;
import sffn.kernels.plan.KernelCall.BiasAdd;
import sffn.kernels.plan.KernelCall.BlockDiagForward;
import sffn.kernels.plan.KernelCall.MatmulForward;
import sffn.kernels.plan.KernelCall.WhenGuided;
import sffn.kernels.plan.Plan;
import sffn.nn.Gpt;
import sffn.nn.Parameter;
import sffn.nn.io.Safetensors;
import sffn.nn.io.SafetensorsFile;
import sffn.nn.layers.LinearLayer;

/**
 * Decoding's weights in a compact format: every weight a decode step multiplies by (attention
 * and FFN linears, structured factors, guides, the head, and the pre-merged FFN matrices, which
 * are merged in float32 and then compressed) held as bf16 or int8 ({@link CompactWeight}), and
 * plans rewritten so that their products read them as stored. Norm gains, biases and the
 * embedding lookup stay float32 (a lookup reads one row per token, not the table).
 *
 * <p>Building one rounds the model's float32 weights in place to exactly the values the compact
 * ones hold, so that whatever else reads them (the embedding lookup of a tied head, the merge,
 * {@code eval --weights}) sees the same model the compact kernels compute with. Loaded from a
 * checkpoint written in the same format ({@code sffn export}), the stored tensors are used as
 * they are, bit for bit.
 */
public final class CompactWeights {
    private final WeightFormat format;
    private final Map<Tensor, CompactWeight> compact = new IdentityHashMap<>();

    private CompactWeights(WeightFormat format) {
        this.format = format;
    }

    /** Float32 decoding: no weight replaced, plans unchanged. */
    public static CompactWeights none() {
        return new CompactWeights(WeightFormat.FP32);
    }

    /**
     * The model's product weights in {@code format}; tensors {@code modelFile} (may be null)
     * holds in that format already are taken from it.
     */
    public static CompactWeights of(Gpt model, WeightFormat format, Path modelFile) throws IOException {
        CompactWeights w = new CompactWeights(format);
        if (format == WeightFormat.FP32) return w;
        SafetensorsFile file = modelFile != null && Files.isRegularFile(modelFile) ? Safetensors.open(modelFile) : null;
        try {
            for (Tensor t : productWeights(model)) {
                if (w.compact.containsKey(t)) continue;
                CompactWeight c = stored(file, t, format);
                if (c == null) c = CompactWeight.compress(t, format);
                float[] values = c.dequantised();
                System.arraycopy(values, 0, t.data, 0, values.length);
                w.compact.put(t, c);
            }
        } finally {
            if (file != null) file.close();
        }
        return w;
    }

    /**
     * Every weight a decode step of the model multiplies by, the head included, each once (a
     * tied head is the token embedding).
     */
    public static List<Tensor> productWeights(Gpt model) {
        List<Tensor> ts = new ArrayList<>();
        for (Gpt.Block b : model.blocks()) {
            for (LinearLayer l : List.of(b.qkv(), b.o(), b.fc1(), b.fc2())) {
                for (Parameter p : l.structure().parameters()) ts.add(p.value);
                if (l.guide() != null) ts.add(l.guide().value);
            }
        }
        ts.add(model.head().value);
        return ts;
    }

    private static CompactWeight stored(SafetensorsFile file, Tensor t, WeightFormat format) throws IOException {
        if (file == null || !file.contains(t.name)) return null;
        Safetensors.Dtype d = file.dtype(t.name);
        if (format == WeightFormat.BF16 && d == Safetensors.Dtype.BF16) {
            ShortTensor s = new ShortTensor(t.name, t.shape());
            file.readInto(t.name, s);
            return new CompactWeight.Bf16Weight(s);
        }
        if (format == WeightFormat.INT8 && d == Safetensors.Dtype.I8) {
            ByteTensor q = new ByteTensor(t.name, t.shape());
            file.readInto(t.name, q);
            Tensor scale = file.read(t.name + ".scale");
            return new CompactWeight.Int8Weight(q, scale);
        }
        return null;
    }

    /** Adds the pre-merged FFN matrices, merged in float32 from the (rounded) factors, then compressed. */
    public CompactWeights withMerged(MergedWeights merged, Gpt model) {
        if (format == WeightFormat.FP32) return this;
        for (LinearLayer l : model.structuredFfnLinears()) {
            Tensor m = merged.of(l).value;
            if (!compact.containsKey(m)) {
                CompactWeight c = CompactWeight.compress(m, format);
                float[] values = c.dequantised();
                System.arraycopy(values, 0, m.data, 0, values.length);
                compact.put(m, c);
            }
        }
        return this;
    }

    public WeightFormat format() {
        return format;
    }

    /** The compact form of a float weight, or null if this tensor stays float32. */
    public CompactWeight of(Tensor t) {
        return compact.get(t);
    }

    public Collection<CompactWeight> all() {
        return Collections.unmodifiableCollection(compact.values());
    }

    /** {@code plan} with every product by a weight held here reading the compact weight instead. */
    public Plan rewrite(Plan plan) {
        if (compact.isEmpty()) return plan;
        return plan.rewritten(plan.name() + " " + format.label(), this::rewrite);
    }

    private List<KernelCall> rewrite(KernelCall call) {
        switch (call) {
            case MatmulForward c when compact.containsKey(c.b()) -> {
                KernelCall product = compact.get(c.b()).matmul(c.a(), c.c(), c.m(), c.n(), c.k(), c.accumulate());
                if (c.bias() == null) return List.of(product);
                return List.of(product, new BiasAdd(c.c(), c.bias(), c.m(), c.n()));
            }
            case BlockDiagForward c when compact.containsKey(c.w()) -> {
                return List.of(compact.get(c.w()).blockDiag(c.x(), c.y(), c.rows(), c.nb(), c.q(), c.p(), c.accumulate()));
            }
            case WhenGuided c -> {
                List<KernelCall> inner = rewrite(c.inner());
                if (inner.size() != 1) throw new IllegalStateException("a guided call became " + inner.size() + " calls: " + c);
                return List.of(new WhenGuided(c.scalars(), c.switchSlot(), inner.get(0)));
            }
            default -> {
                return List.of(call);
            }
        }
    }
}
