package sffn.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import sffn.kernels.IntTensor;
import sffn.kernels.Rope;
import sffn.kernels.StepScalars;
import sffn.kernels.Tensor;
import sffn.kernels.plan.KernelCall.AttentionBackward;
import sffn.kernels.plan.KernelCall.AttentionForward;
import sffn.kernels.plan.KernelCall.Copy;
import sffn.kernels.plan.KernelCall.EmbeddingBackward;
import sffn.kernels.plan.KernelCall.EmbeddingForward;
import sffn.kernels.plan.KernelCall.GeluBackward;
import sffn.kernels.plan.KernelCall.GeluForward;
import sffn.kernels.plan.KernelCall.MatmulBackwardInput;
import sffn.kernels.plan.KernelCall.MatmulBackwardWeight;
import sffn.kernels.plan.KernelCall.MatmulForward;
import sffn.kernels.plan.KernelCall.PositionsAdd;
import sffn.kernels.plan.KernelCall.PositionsBackward;
import sffn.kernels.plan.KernelCall.ResidualAdd;
import sffn.kernels.plan.KernelCall.RopeRotate;
import sffn.kernels.plan.KernelCall.SwiGluBackward;
import sffn.kernels.plan.KernelCall.SwiGluForward;
import sffn.kernels.plan.Plan;
import sffn.nn.config.Activation;
import sffn.nn.config.MethodConfig;
import sffn.nn.config.ModelConfig;
import sffn.nn.config.PositionEmbedding;
import sffn.nn.layers.BlockDenseLinear;
import sffn.nn.layers.BlockShuffleLinear;
import sffn.nn.layers.DenseLinear;
import sffn.nn.layers.Linear;
import sffn.nn.layers.LinearLayer;
import sffn.nn.layers.LowRankLinear;
import sffn.nn.layers.NormLayer;

/**
 * The GPT of the paper's code: token embeddings (+ absolute positions), pre-norm blocks of
 * causal attention (RoPE or absolute, GQA) and an FFN whose two linears are dense or structured,
 * a final norm and a tied or separate head. Forward and backward are added to plans as kernel
 * calls over the parameters and over activations held in {@link Buffers}.
 *
 * <pre>
 *   x = wte[tokens] (+ wpe[pos])
 *   per layer:  x = x + o(attn(rope(qkv(ln1(x)))));   x = x + fc2(act(fc1(ln2(x))))
 *   logits = ln_f(x) . head^T
 * </pre>
 */
public final class Gpt {

    /** One transformer layer's parts. */
    public record Block(String prefix, NormLayer ln1, LinearLayer qkv, LinearLayer o, NormLayer ln2,
                        LinearLayer fc1, LinearLayer fc2) {
        public List<Parameter> parameters() {
            List<Parameter> ps = new ArrayList<>(ln1.parameters());
            ps.addAll(qkv.parameters());
            ps.addAll(o.parameters());
            ps.addAll(ln2.parameters());
            ps.addAll(fc1.parameters());
            ps.addAll(fc2.parameters());
            return ps;
        }
    }

    public final ModelConfig config;
    public final MethodConfig method;
    private final Parameter wte;
    private final Parameter wpe;
    private final Parameter lmHead;
    private final List<Block> blocks = new ArrayList<>();
    private final NormLayer lnf;
    private final Tensor ropeCos;
    private final Tensor ropeSin;
    private final Tensor scalars;

    /** A model with every parameter allocated and zero (norm gains one); see {@link #init}. */
    public Gpt(ModelConfig config, MethodConfig method) {
        method.checkAgainst(config, "method config");
        this.config = config;
        this.method = method;
        int c = config.hiddenDim();
        wte = new Parameter("wte.weight", true, config.vocabSize(), c);
        wpe = config.posEmb() == PositionEmbedding.ABSOLUTE
                ? new Parameter("wpe.weight", true, config.maxPositionEmbeddings(), c) : null;
        lmHead = config.tieWordEmbeddings() ? null : new Parameter("lm_head.weight", true, config.vocabSize(), c);
        for (int l = 0; l < config.numLayers(); l++) {
            String p = "layers." + l;
            blocks.add(new Block(p,
                    new NormLayer(p + ".ln1", config.ln(), c),
                    new LinearLayer(p + ".attn.qkv", new DenseLinear(p + ".attn.qkv", c, config.qkvDim()), config.bias()),
                    new LinearLayer(p + ".attn.o", new DenseLinear(p + ".attn.o", config.attnDim(), c), config.bias()),
                    new NormLayer(p + ".ln2", config.ln(), c),
                    new LinearLayer(p + ".mlp.fc1", ffnLinear(p + ".mlp.fc1", c, config.fc1OutDim(), l), config.bias()),
                    new LinearLayer(p + ".mlp.fc2", ffnLinear(p + ".mlp.fc2", config.ffnDim(), c, l), config.bias())));
        }
        lnf = new NormLayer("ln_f", config.ln(), c);
        if (config.posEmb() == PositionEmbedding.ROPE) {
            float[][] t = Rope.tables(config.maxPositionEmbeddings(), config.headDim(), config.rotaryBase());
            int half = config.headDim() / 2;
            ropeCos = new Tensor("rope.cos", config.maxPositionEmbeddings(), half);
            ropeSin = new Tensor("rope.sin", config.maxPositionEmbeddings(), half);
            System.arraycopy(t[0], 0, ropeCos.data, 0, t[0].length);
            System.arraycopy(t[1], 0, ropeSin.data, 0, t[1].length);
        } else {
            ropeCos = null;
            ropeSin = null;
        }
        scalars = new Tensor("step.scalars", StepScalars.size(structuredFfnLinears().size()));
        scalars.data[StepScalars.CLIP_SCALE] = 1f;
    }

    private Linear ffnLinear(String prefix, int in, int out, int layer) {
        if (!method.structuredAt(layer)) return new DenseLinear(prefix, in, out);
        return switch (method.name()) {
            case LOWRANK -> new LowRankLinear(prefix, in, out, method.rank(), method.postInit());
            case BLOCKDENSE -> new BlockDenseLinear(prefix, in, out, method.rank(), method.nblocks(), method.postInit());
            case BLOCKSHUFFLE -> new BlockShuffleLinear(prefix, in, out, method.nblocks(), method.postInit());
            case LINEAR -> new DenseLinear(prefix, in, out);
        };
    }

    /** Draws every weight from the run seed: normal(0, initializer_range), then the method's post-init. */
    public Gpt init(long seed) {
        return init(seed, (done, total) -> { });
    }

    /** Told how many of the linears are initialised, as they finish (from any thread). */
    public interface InitProgress {
        void initialised(int done, int total);
    }

    /**
     * As {@link #init(long)}, the linears in parallel (each draws from its own generator, named for
     * its parameters, so the weights do not depend on the order or the threads; the SVDs and QR
     * decompositions of a big model's structured FFNs take minutes on one core).
     */
    public Gpt init(long seed, InitProgress progress) {
        double std = config.initializerRange();
        Init.normal(wte.value.data, std, Init.rng(seed, wte.name));
        if (wpe != null) Init.normal(wpe.value.data, std, Init.rng(seed, wpe.name));
        if (lmHead != null) Init.normal(lmHead.value.data, std, Init.rng(seed, lmHead.name));
        List<LinearLayer> linears = new ArrayList<>();
        for (Block b : blocks) linears.addAll(List.of(b.qkv(), b.o(), b.fc1(), b.fc2()));
        java.util.concurrent.atomic.AtomicInteger done = new java.util.concurrent.atomic.AtomicInteger();
        linears.parallelStream().forEach(lin -> {
            lin.structure().init(seed, std);
            progress.initialised(done.incrementAndGet(), linears.size());
        });
        return this;
    }

    public List<Block> blocks() {
        return Collections.unmodifiableList(blocks);
    }

    public Parameter tokenEmbedding() {
        return wte;
    }

    /** The absolute position table, or null with RoPE. */
    public Parameter positionEmbedding() {
        return wpe;
    }

    /** The output head's weights: the token embedding when tied. */
    public Parameter head() {
        return lmHead != null ? lmHead : wte;
    }

    public NormLayer finalNorm() {
        return lnf;
    }

    public Tensor ropeCos() {
        return ropeCos;
    }

    public Tensor ropeSin() {
        return ropeSin;
    }

    /** The per-step scalar buffer (learning rate, guide weight, switches, ...). */
    public Tensor scalars() {
        return scalars;
    }

    /** Every parameter, in checkpoint order. */
    public List<Parameter> parameters() {
        List<Parameter> ps = new ArrayList<>();
        ps.add(wte);
        if (wpe != null) ps.add(wpe);
        for (Block b : blocks) ps.addAll(b.parameters());
        ps.addAll(lnf.parameters());
        if (lmHead != null) ps.add(lmHead);
        return ps;
    }

    /** The FFN linears with a structure (the ones self-guided training guides). */
    public List<LinearLayer> structuredFfnLinears() {
        List<LinearLayer> ls = new ArrayList<>();
        for (Block b : blocks) {
            if (b.fc1().structured()) ls.add(b.fc1());
            if (b.fc2().structured()) ls.add(b.fc2());
        }
        return ls;
    }

    /** Gives every structured FFN linear a dense guide initialised to its merged matrix. */
    public void addGuides() {
        int slot = StepScalars.GUIDE_SWITCHES;
        for (LinearLayer l : structuredFfnLinears()) {
            l.addGuide(slot);
            scalars.data[slot++] = 1f;
        }
    }

    /** Allocates guide slots whose values a checkpoint will fill. */
    public void attachGuides() {
        int slot = StepScalars.GUIDE_SWITCHES;
        for (LinearLayer l : structuredFfnLinears()) {
            l.attachGuide(slot);
            scalars.data[slot++] = 1f;
        }
    }

    public void dropGuides() {
        for (LinearLayer l : structuredFfnLinears()) l.dropGuide();
    }

    public boolean guided() {
        for (LinearLayer l : structuredFfnLinears()) if (l.guide() != null) return true;
        return false;
    }

    private void checkSequence(int seqLen) {
        if (seqLen > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("sequence length " + seqLen + " exceeds the model's max_position_embeddings "
                    + config.maxPositionEmbeddings());
        }
    }

    /**
     * Adds the forward over {@code tokens} [batch * seqLen] and returns the logits tensor
     * [batch * seqLen, vocab]. Saved activations live in {@code buf}.
     */
    public Tensor forward(Plan plan, Buffers buf, IntTensor tokens, int batch, int seqLen) {
        checkSequence(seqLen);
        int rows = batch * seqLen;
        int c = config.hiddenDim();
        plan.section("embed");
        Tensor x = buf.get("res.0", rows, c);
        plan.add(new EmbeddingForward(tokens, wte.value, x, rows, c));
        if (wpe != null) plan.add(new PositionsAdd(wpe.value, x, rows, seqLen, 0, c));
        for (int l = 0; l < blocks.size(); l++) {
            plan.section("layer " + l + " forward");
            x = blockForward(plan, buf, blocks.get(l), x, l, batch, seqLen);
        }
        plan.section("head");
        Tensor xf = buf.get("ln_f.out", rows, c);
        lnf.forward(plan, buf, x, xf, rows);
        Tensor logits = buf.get("logits", rows, config.vocabSize());
        plan.add(new MatmulForward(xf, head().value, null, logits, rows, config.vocabSize(), c, false));
        return logits;
    }

    private Tensor blockForward(Plan plan, Buffers buf, Block b, Tensor x, int l, int batch, int seqLen) {
        int rows = batch * seqLen;
        int c = config.hiddenDim();
        String p = b.prefix();
        Tensor h1 = buf.get(p + ".ln1.out", rows, c);
        b.ln1().forward(plan, buf, x, h1, rows);
        Tensor qkv = buf.get(p + ".qkv", rows, config.qkvDim());
        b.qkv().forward(plan, buf, scalars, h1, qkv, rows);
        if (ropeCos != null) {
            plan.add(new RopeRotate(qkv, ropeCos, ropeSin, rows, seqLen, 0,
                    config.numQHeads() + config.numKvHeads(), config.headDim(), config.qkvDim(), 1f));
        }
        Tensor att = buf.get(p + ".att", rows, config.attnDim());
        Tensor lse = buf.get(p + ".lse", batch, config.numQHeads(), seqLen);
        plan.add(new AttentionForward(qkv, att, lse, batch, seqLen, config.numQHeads(), config.numKvHeads(), config.headDim()));
        Tensor proj = buf.get("branch.out", rows, c);
        b.o().forward(plan, buf, scalars, att, proj, rows);
        Tensor mid = buf.get(p + ".res.mid", rows, c);
        plan.add(new Copy(x, mid, rows * c));
        plan.add(new ResidualAdd(mid, proj, rows * c));

        Tensor h2 = buf.get(p + ".ln2.out", rows, c);
        b.ln2().forward(plan, buf, mid, h2, rows);
        Tensor f1 = buf.get(p + ".fc1.out", rows, config.fc1OutDim());
        b.fc1().forward(plan, buf, scalars, h2, f1, rows);
        Tensor a = buf.get(p + ".act.out", rows, config.ffnDim());
        if (config.act() == Activation.SWIGLU) {
            plan.add(new SwiGluForward(f1, a, rows, config.ffnDim()));
        } else {
            plan.add(new GeluForward(f1, a, rows * config.ffnDim()));
        }
        Tensor f2 = buf.get("branch.out", rows, c);
        b.fc2().forward(plan, buf, scalars, a, f2, rows);
        Tensor next = buf.get("res." + (l + 1), rows, c);
        plan.add(new Copy(mid, next, rows * c));
        plan.add(new ResidualAdd(next, f2, rows * c));
        return next;
    }

    /**
     * Adds the backward of {@link #forward}, starting from {@code dlogits} (which may be the
     * logits tensor, overwritten by the loss kernel). Parameter gradients accumulate.
     */
    public void backward(Plan plan, Buffers buf, IntTensor tokens, Tensor dlogits, int batch, int seqLen) {
        int rows = batch * seqLen;
        int c = config.hiddenDim();
        int v = config.vocabSize();
        plan.section("head backward");
        Tensor xf = buf.get("ln_f.out", rows, c);
        Tensor dxf = buf.get("grad.hidden", rows, c);
        plan.add(new MatmulBackwardWeight(dlogits, xf, head().grad(), rows, v, c, true));
        plan.add(new MatmulBackwardInput(dlogits, head().value, dxf, rows, v, c, false));
        Tensor dres = buf.get("grad.res", rows, c);
        lnf.backward(plan, buf, buf.get("res." + blocks.size(), rows, c), dxf, dres, rows, false);
        for (int l = blocks.size() - 1; l >= 0; l--) {
            plan.section("layer " + l + " backward");
            blockBackward(plan, buf, blocks.get(l), dres, l, batch, seqLen);
        }
        plan.section("embed backward");
        plan.add(new EmbeddingBackward(tokens, dres, wte.grad(), rows, c));
        if (wpe != null) plan.add(new PositionsBackward(dres, wpe.grad(), rows, seqLen, c));
    }

    private void blockBackward(Plan plan, Buffers buf, Block b, Tensor dres, int l, int batch, int seqLen) {
        int rows = batch * seqLen;
        int c = config.hiddenDim();
        String p = b.prefix();
        Tensor mid = buf.get(p + ".res.mid", rows, c);
        Tensor x = buf.get("res." + l, rows, c);

        Tensor a = buf.get(p + ".act.out", rows, config.ffnDim());
        Tensor da = buf.get("grad.act", rows, config.ffnDim());
        b.fc2().backward(plan, buf, scalars, a, dres, da, rows, false);
        Tensor f1 = buf.get(p + ".fc1.out", rows, config.fc1OutDim());
        Tensor df1 = buf.get("grad.fc1", rows, config.fc1OutDim());
        if (config.act() == Activation.SWIGLU) {
            plan.add(new SwiGluBackward(f1, da, df1, rows, config.ffnDim()));
        } else {
            plan.add(new GeluBackward(f1, da, df1, rows * config.ffnDim()));
        }
        Tensor h2 = buf.get(p + ".ln2.out", rows, c);
        Tensor dh = buf.get("grad.hidden", rows, c);
        b.fc1().backward(plan, buf, scalars, h2, df1, dh, rows, false);
        b.ln2().backward(plan, buf, mid, dh, dres, rows, true);

        Tensor att = buf.get(p + ".att", rows, config.attnDim());
        Tensor datt = buf.get("grad.att", rows, config.attnDim());
        b.o().backward(plan, buf, scalars, att, dres, datt, rows, false);
        Tensor qkv = buf.get(p + ".qkv", rows, config.qkvDim());
        Tensor lse = buf.get(p + ".lse", batch, config.numQHeads(), seqLen);
        Tensor delta = buf.get("grad.attn.delta", batch, config.numQHeads(), seqLen);
        Tensor dqkv = buf.get("grad.qkv", rows, config.qkvDim());
        plan.add(new AttentionBackward(datt, qkv, att, lse, delta, dqkv, batch, seqLen,
                config.numQHeads(), config.numKvHeads(), config.headDim()));
        if (ropeCos != null) {
            plan.add(new RopeRotate(dqkv, ropeCos, ropeSin, rows, seqLen, 0,
                    config.numQHeads() + config.numKvHeads(), config.headDim(), config.qkvDim(), -1f));
        }
        Tensor h1 = buf.get(p + ".ln1.out", rows, c);
        b.qkv().backward(plan, buf, scalars, h1, dqkv, dh, rows, false);
        b.ln1().backward(plan, buf, x, dh, dres, rows, true);
    }
}
