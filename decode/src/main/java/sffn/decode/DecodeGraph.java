package sffn.decode;

import sffn.kernels.IntTensor;
import sffn.kernels.Tensor;
import sffn.kernels.plan.KernelCall.BiasAdd;
import sffn.kernels.plan.KernelCall.EmbeddingForward;
import sffn.kernels.plan.KernelCall.GeluForward;
import sffn.kernels.plan.KernelCall.LastRows;
import sffn.kernels.plan.KernelCall.MatmulForward;
import sffn.kernels.plan.KernelCall.PositionsAddAt;
import sffn.kernels.plan.KernelCall.ResidualAdd;
import sffn.kernels.plan.KernelCall.RopeRotateAt;
import sffn.kernels.plan.KernelCall.SwiGluForward;
import sffn.kernels.plan.Plan;
import sffn.nn.Buffers;
import sffn.nn.Gpt;
import sffn.nn.Parameter;
import sffn.nn.config.Activation;
import sffn.nn.config.ModelConfig;
import sffn.nn.layers.LinearLayer;

/**
 * The forward of {@code n} new tokens of each of {@code batch} sequences against the KV cache,
 * at positions {@code cache.pos .. cache.pos + n - 1}, giving the logits of each sequence's last
 * new token. Prefill is one graph with n = prompt length; each decode step one with n = 1. Each
 * structured FFN linear runs structured or pre-merged as the policy picks for batch x n tokens.
 */
public final class DecodeGraph {
    public final int batch;
    public final int n;
    public final IntTensor tokens;
    /** [batch, vocab]: logits of each sequence's last new token. */
    public final Tensor logits;
    /** The step's calls; with compact weights, rewritten to read them as stored. */
    public final Plan plan;
    private int mergedLinears;
    private int structuredLinears;

    public DecodeGraph(Gpt model, KvCacheTensors cache, MergedWeights merged, MergePolicy policy, int n) {
        this(model, cache, merged, policy, CompactWeights.none(), n);
    }

    public DecodeGraph(Gpt model, KvCacheTensors cache, MergedWeights merged, MergePolicy policy, CompactWeights weights,
                       int n) {
        ModelConfig c = model.config;
        this.batch = cache.batch;
        this.n = n;
        int rows = batch * n;
        int h = c.hiddenDim();
        Buffers buf = new Buffers();
        tokens = buf.ints("tokens", rows);
        Plan plan = new Plan("decode " + batch + "x" + n);
        plan.section("embed");
        Tensor x = buf.get("x", rows, h);
        plan.add(new EmbeddingForward(tokens, model.tokenEmbedding().value, x, rows, h));
        if (model.positionEmbedding() != null) {
            plan.add(new PositionsAddAt(model.positionEmbedding().value, x, cache.pos, rows, n, h));
        }
        Tensor scalars = model.scalars();
        for (int l = 0; l < c.numLayers(); l++) {
            Gpt.Block b = model.blocks().get(l);
            plan.section("layer " + l);
            Tensor h1 = buf.get("h", rows, h);
            b.ln1().forward(plan, buf, x, h1, rows);
            Tensor qkv = buf.get("qkv", rows, c.qkvDim());
            b.qkv().forward(plan, buf, scalars, h1, qkv, rows);
            if (model.ropeCos() != null) {
                plan.add(new RopeRotateAt(qkv, model.ropeCos(), model.ropeSin(), cache.pos, rows, n,
                        c.numQHeads() + c.numKvHeads(), c.headDim(), c.qkvDim()));
            }
            Tensor att = buf.get("att", rows, c.attnDim());
            Tensor scores = buf.get("scores", rows, c.numQHeads(), cache.maxLen);
            cache.appendAndAttend(plan, l, qkv, att, scores, n, c);
            Tensor branch = buf.get("branch", rows, h);
            b.o().forward(plan, buf, scalars, att, branch, rows);
            plan.add(new ResidualAdd(x, branch, rows * h));
            Tensor h2 = buf.get("h", rows, h);
            b.ln2().forward(plan, buf, x, h2, rows);
            Tensor f1 = buf.get("fc1", rows, c.fc1OutDim());
            linear(plan, buf, scalars, b.fc1(), merged, policy, h2, f1, rows);
            Tensor a = buf.get("act", rows, c.ffnDim());
            if (c.act() == Activation.SWIGLU) {
                plan.add(new SwiGluForward(f1, a, rows, c.ffnDim()));
            } else {
                plan.add(new GeluForward(f1, a, rows * c.ffnDim()));
            }
            linear(plan, buf, scalars, b.fc2(), merged, policy, a, branch, rows);
            plan.add(new ResidualAdd(x, branch, rows * h));
        }
        plan.section("head");
        Tensor xf = buf.get("xf", rows, h);
        model.finalNorm().forward(plan, buf, x, xf, rows);
        Tensor last = buf.get("last", batch, h);
        plan.add(new LastRows(xf, last, batch, n, h));
        logits = buf.get("logits", batch, c.vocabSize());
        plan.add(new MatmulForward(last, model.head().value, null, logits, batch, c.vocabSize(), h, false));
        plan.hostInputs(tokens, cache.pos, scalars);
        plan.hostOutputs(logits);
        this.plan = weights.rewrite(plan);
    }

    private void linear(Plan plan, Buffers buf, Tensor scalars, LinearLayer layer, MergedWeights merged, MergePolicy policy,
                        Tensor x, Tensor y, int rows) {
        if (layer.structured() && policy.useMerged(layer, rows)) {
            Parameter w = merged.of(layer);
            plan.add(new MatmulForward(x, w.value, null, y, rows, layer.structure().out(), layer.structure().in(), false));
            if (layer.bias() != null) plan.add(new BiasAdd(y, layer.bias().value, rows, layer.structure().out()));
            mergedLinears++;
        } else {
            layer.forward(plan, buf, scalars, x, y, rows);
            if (layer.structured()) structuredLinears++;
        }
    }

    /** Structured FFN linears this graph runs merged, and structured. */
    public int mergedLinears() {
        return mergedLinears;
    }

    public int structuredLinears() {
        return structuredLinears;
    }
}
