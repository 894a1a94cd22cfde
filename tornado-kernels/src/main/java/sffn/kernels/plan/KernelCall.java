package sffn.kernels.plan;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import sffn.kernels.AdamW;
import sffn.kernels.Attention;
import sffn.kernels.Bias;
import sffn.kernels.BlockDiagMatmul;
import sffn.kernels.Bf16Matmul;
import sffn.kernels.Blend;
import sffn.kernels.ByteTensor;
import sffn.kernels.CrossEntropy;
import sffn.kernels.Embedding;
import sffn.kernels.Fill;
import sffn.kernels.Gelu;
import sffn.kernels.GradNorm;
import sffn.kernels.Int8Groups;
import sffn.kernels.Int8Matmul;
import sffn.kernels.IntTensor;
import sffn.kernels.KvCache;
import sffn.kernels.LayerNorm;
import sffn.kernels.Matmul;
import sffn.kernels.Residual;
import sffn.kernels.RmsNorm;
import sffn.kernels.Rope;
import sffn.kernels.ShortTensor;
import sffn.kernels.Shuffle;
import sffn.kernels.SwiGlu;
import sffn.kernels.Tensor;

/**
 * One kernel invocation over named tensors: the unit a {@link Plan} is made of. Each call knows
 * its CPU body; a device backend maps each kind of call to its portable body. Sizes are fixed
 * when the plan is built; what changes per step travels in the step-scalar tensor.
 */
public sealed interface KernelCall {

    /** Runs the CPU body. */
    void runCpu();

    static int flag(boolean b) {
        return b ? 1 : 0;
    }

    record MatmulForward(Tensor a, Tensor b, Tensor bias, Tensor c, int m, int n, int k, boolean accumulate)
            implements KernelCall {
        public void runCpu() {
            Matmul.forwardCpu(a.data, b.data, bias == null ? null : bias.data, c.data, m, n, k, accumulate);
        }
    }

    /** {@link MatmulForward} with W [n, k] in bfloat16 (decoding). */
    record Bf16MatmulForward(Tensor a, ShortTensor w, Tensor c, int m, int n, int k, boolean accumulate)
            implements KernelCall {
        public void runCpu() {
            Bf16Matmul.forwardCpu(a.data, w.data, c.data, m, n, k, accumulate);
        }
    }

    /** {@link MatmulForward} with W [n, k] in int8, scales [n, groups(k)] (decoding). */
    record Int8MatmulForward(Tensor a, ByteTensor w, Tensor scale, Tensor c, int m, int n, int k, boolean accumulate)
            implements KernelCall {
        public void runCpu() {
            Int8Matmul.forwardCpu(a.data, w.data, scale.data, c.data, m, n, k, accumulate);
        }

        /** Weights per scale, for the portable body. */
        public int group() {
            return Int8Groups.GROUP;
        }
    }

    /** {@link BlockDiagForward} with w [nb, q, p] in bfloat16 (decoding). */
    record Bf16BlockDiagForward(Tensor x, ShortTensor w, Tensor y, int rows, int nb, int q, int p, boolean accumulate)
            implements KernelCall {
        public void runCpu() {
            Bf16Matmul.blockDiagForwardCpu(x.data, w.data, y.data, rows, nb, q, p, accumulate);
        }
    }

    /** {@link BlockDiagForward} with w [nb, q, p] in int8, scales [nb, q, groups(p)] (decoding). */
    record Int8BlockDiagForward(Tensor x, ByteTensor w, Tensor scale, Tensor y, int rows, int nb, int q, int p,
                                boolean accumulate) implements KernelCall {
        public void runCpu() {
            Int8Matmul.blockDiagForwardCpu(x.data, w.data, scale.data, y.data, rows, nb, q, p, accumulate);
        }

        public int group() {
            return Int8Groups.GROUP;
        }
    }

    record MatmulBackwardInput(Tensor dc, Tensor b, Tensor da, int m, int n, int k, boolean accumulate)
            implements KernelCall {
        public void runCpu() {
            Matmul.backwardInputCpu(dc.data, b.data, da.data, m, n, k, accumulate);
        }
    }

    record MatmulBackwardWeight(Tensor dc, Tensor a, Tensor db, int m, int n, int k, boolean accumulate)
            implements KernelCall {
        public void runCpu() {
            Matmul.backwardWeightCpu(dc.data, a.data, db.data, m, n, k, accumulate);
        }
    }

    record BiasAdd(Tensor y, Tensor bias, int rows, int cols) implements KernelCall {
        public void runCpu() {
            Bias.addCpu(y.data, bias.data, rows, cols);
        }
    }

    record BiasBackward(Tensor dy, Tensor dbias, int rows, int cols, boolean accumulate) implements KernelCall {
        public void runCpu() {
            Bias.backwardCpu(dy.data, dbias.data, rows, cols, accumulate);
        }
    }

    record BlockDiagForward(Tensor x, Tensor w, Tensor y, int rows, int nb, int q, int p, boolean accumulate)
            implements KernelCall {
        public void runCpu() {
            BlockDiagMatmul.forwardCpu(x.data, w.data, y.data, rows, nb, q, p, accumulate);
        }
    }

    record BlockDiagBackwardInput(Tensor dy, Tensor w, Tensor dx, int rows, int nb, int q, int p, boolean accumulate)
            implements KernelCall {
        public void runCpu() {
            BlockDiagMatmul.backwardInputCpu(dy.data, w.data, dx.data, rows, nb, q, p, accumulate);
        }
    }

    record BlockDiagBackwardWeight(Tensor dy, Tensor x, Tensor dw, int rows, int nb, int q, int p, boolean accumulate)
            implements KernelCall {
        public void runCpu() {
            BlockDiagMatmul.backwardWeightCpu(dy.data, x.data, dw.data, rows, nb, q, p, accumulate);
        }
    }

    /** Per row, (a, b) written as (b, a). */
    record ShuffleRows(Tensor in, Tensor out, int rows, int a, int b) implements KernelCall {
        public void runCpu() {
            Shuffle.forwardCpu(in.data, out.data, rows, a, b);
        }
    }

    record LayerNormForward(Tensor x, Tensor w, Tensor b, Tensor out, Tensor mean, Tensor rstd, int rows, int c)
            implements KernelCall {
        public void runCpu() {
            LayerNorm.forwardCpu(x.data, w.data, b.data, out.data, mean.data, rstd.data, rows, c);
        }
    }

    record LayerNormBackward(Tensor dout, Tensor x, Tensor w, Tensor mean, Tensor rstd, Tensor dx, Tensor dw, Tensor db,
                             int rows, int c, boolean accumulateInput) implements KernelCall {
        public void runCpu() {
            LayerNorm.backwardCpu(dout.data, x.data, w.data, mean.data, rstd.data, dx.data, dw.data, db.data, rows, c,
                    accumulateInput);
        }
    }

    record RmsNormForward(Tensor x, Tensor w, Tensor out, Tensor rstd, int rows, int c) implements KernelCall {
        public void runCpu() {
            RmsNorm.forwardCpu(x.data, w.data, out.data, rstd.data, rows, c);
        }
    }

    record RmsNormBackward(Tensor dout, Tensor x, Tensor w, Tensor rstd, Tensor dx, Tensor dw,
                           int rows, int c, boolean accumulateInput) implements KernelCall {
        public void runCpu() {
            RmsNorm.backwardCpu(dout.data, x.data, w.data, rstd.data, dx.data, dw.data, rows, c, accumulateInput);
        }
    }

    record GeluForward(Tensor x, Tensor out, int n) implements KernelCall {
        public void runCpu() {
            Gelu.forwardCpu(x.data, out.data, n);
        }
    }

    record GeluBackward(Tensor x, Tensor dout, Tensor dx, int n) implements KernelCall {
        public void runCpu() {
            Gelu.backwardCpu(x.data, dout.data, dx.data, n);
        }
    }

    record SwiGluForward(Tensor x, Tensor out, int rows, int f) implements KernelCall {
        public void runCpu() {
            SwiGlu.forwardCpu(x.data, out.data, rows, f);
        }
    }

    record SwiGluBackward(Tensor x, Tensor dout, Tensor dx, int rows, int f) implements KernelCall {
        public void runCpu() {
            SwiGlu.backwardCpu(x.data, dout.data, dx.data, rows, f);
        }
    }

    record RopeRotate(Tensor x, Tensor cos, Tensor sin, int rows, int seqLen, int posOffset, int heads, int d,
                      int rowStride, float sign) implements KernelCall {
        public void runCpu() {
            Rope.rotateCpu(x.data, cos.data, sin.data, rows, seqLen, posOffset, heads, d, rowStride, sign);
        }
    }

    /** Saves {@code lse [B, nq, T]}, the log-sum-exp of each row's scaled scores, for backward. */
    record AttentionForward(Tensor qkv, Tensor out, Tensor lse, int batch, int seqLen, int nq, int nkv, int d)
            implements KernelCall {
        public void runCpu() {
            Attention.forwardCpu(qkv.data, out.data, lse.data, batch, seqLen, nq, nkv, d);
        }
    }

    /** Reads the forward's out and lse; {@code delta [B, nq, T]} is scratch (dout . out per row). */
    record AttentionBackward(Tensor dout, Tensor qkv, Tensor out, Tensor lse, Tensor delta, Tensor dqkv,
                             int batch, int seqLen, int nq, int nkv, int d) implements KernelCall {
        public void runCpu() {
            Attention.backwardCpu(dout.data, qkv.data, out.data, lse.data, delta.data, dqkv.data, batch, seqLen, nq, nkv, d);
        }
    }

    record CrossEntropyForward(Tensor logits, IntTensor targets, Tensor losses, int rows, int v) implements KernelCall {
        public void runCpu() {
            CrossEntropy.forwardCpu(logits.data, targets.data, losses.data, rows, v);
        }
    }

    /** Loss and its gradient in one pass; {@code dlogits} may be {@code logits}. */
    record CrossEntropyForwardBackward(Tensor logits, IntTensor targets, Tensor losses, Tensor dlogits, Tensor scalars,
                                       int rows, int v) implements KernelCall {
        public void runCpu() {
            CrossEntropy.forwardBackwardCpu(logits.data, targets.data, losses.data, dlogits.data, scalars.data, rows, v);
        }
    }

    record EmbeddingForward(IntTensor tokens, Tensor wte, Tensor out, int rows, int c) implements KernelCall {
        public void runCpu() {
            Embedding.forwardCpu(tokens.data, wte.data, out.data, rows, c);
        }
    }

    record PositionsAdd(Tensor wpe, Tensor out, int rows, int seqLen, int posOffset, int c) implements KernelCall {
        public void runCpu() {
            Embedding.addPositionsCpu(wpe.data, out.data, rows, seqLen, posOffset, c);
        }
    }

    record EmbeddingBackward(IntTensor tokens, Tensor dout, Tensor dwte, int rows, int c) implements KernelCall {
        public void runCpu() {
            Embedding.backwardCpu(tokens.data, dout.data, dwte.data, rows, c);
        }
    }

    record PositionsBackward(Tensor dout, Tensor dwpe, int rows, int seqLen, int c) implements KernelCall {
        public void runCpu() {
            Embedding.positionsBackwardCpu(dout.data, dwpe.data, rows, seqLen, c);
        }
    }

    record ResidualAdd(Tensor x, Tensor y, int n) implements KernelCall {
        public void runCpu() {
            Residual.addCpu(x.data, y.data, n);
        }
    }

    /**
     * {@code sum = src + y}: a {@link Copy} of the residual stream and a {@link ResidualAdd} on the
     * copy, as one device task ({@code Fusion}); the same adds in the same order.
     */
    record ResidualSum(Tensor src, Tensor y, Tensor sum, int n) implements KernelCall {
        public void runCpu() {
            Residual.sumCpu(src.data, y.data, sum.data, n);
        }
    }

    /**
     * {@link ResidualSum} then {@link LayerNormForward} of the sum ({@code rows x c = n}): the
     * residual stream's next value and its norm, one device task.
     */
    record ResidualLayerNorm(Tensor src, Tensor y, Tensor sum, Tensor w, Tensor b, Tensor out, Tensor mean, Tensor rstd,
                             int rows, int c) implements KernelCall {
        public void runCpu() {
            LayerNorm.residualForwardCpu(src.data, y.data, sum.data, w.data, b.data, out.data, mean.data, rstd.data,
                    rows, c);
        }
    }

    /** {@link ResidualSum} then {@link RmsNormForward} of the sum ({@code rows x c = n}), one device task. */
    record ResidualRmsNorm(Tensor src, Tensor y, Tensor sum, Tensor w, Tensor out, Tensor rstd, int rows, int c)
            implements KernelCall {
        public void runCpu() {
            RmsNorm.residualForwardCpu(src.data, y.data, sum.data, w.data, out.data, rstd.data, rows, c);
        }
    }

    record Zero(Tensor x) implements KernelCall {
        public void runCpu() {
            Fill.zeroCpu(x.data, x.size());
        }
    }

    /** Four gradients zeroed in one launch (the optimizer's launches, fewer on a device). */
    record ZeroFour(Tensor a, Tensor b, Tensor c, Tensor d) implements KernelCall {
        public ZeroFour {
            oneIndexSpace("ZeroFour", a, b, c, d);
        }

        public void runCpu() {
            Fill.zeroFourCpu(a.data, b.data, c.data, d.data, a.size(), b.size(), c.size(), d.size());
        }
    }

    record Copy(Tensor src, Tensor dst, int n) implements KernelCall {
        public void runCpu() {
            Fill.copyCpu(src.data, dst.data, n);
        }
    }

    record BlendForward(Tensor guide, Tensor structured, Tensor scalars, int switchSlot, int n) implements KernelCall {
        public void runCpu() {
            Blend.forwardCpu(guide.data, structured.data, scalars.data, switchSlot, n);
        }
    }

    record BlendBackward(Tensor dout, Tensor dguide, Tensor scalars, int switchSlot, int n) implements KernelCall {
        public void runCpu() {
            Blend.backwardCpu(dout.data, dguide.data, scalars.data, switchSlot, n);
        }
    }

    /**
     * {@link MatmulForward} without accumulation, then {@link GeluForward} of its output:
     * {@code c = a b^T (+ bias)} (the pre-activation the backward reads) and {@code out = gelu(c)};
     * one device task (the register-tiled GEMM's epilogue, {@code Fusion}).
     */
    record MatmulGeluForward(Tensor a, Tensor b, Tensor bias, Tensor c, Tensor out, int m, int n, int k)
            implements KernelCall {
        public void runCpu() {
            Matmul.forwardCpu(a.data, b.data, bias == null ? null : bias.data, c.data, m, n, k, false);
            Gelu.forwardCpu(c.data, out.data, m * n);
        }
    }

    /**
     * The guide's product blended into the structured output: {@link WhenGuided} of a
     * {@link MatmulForward} {@code g = x guide^T}, then {@link BlendForward} of g into y
     * ({@code y = alpha g + (1 - alpha) y} while the switch is on); one device task (the
     * register-tiled GEMM's epilogue, {@code Fusion}), which writes g as well.
     */
    record GuidedMatmulForward(Tensor x, Tensor guide, Tensor g, Tensor y, Tensor scalars, int switchSlot, int m, int n,
                               int k) implements KernelCall {
        public void runCpu() {
            if (scalars.data[switchSlot] == 0f) return;
            Matmul.forwardCpu(x.data, guide.data, null, g.data, m, n, k, false);
            Blend.forwardCpu(g.data, y.data, scalars.data, switchSlot, m * n);
        }
    }

    /**
     * A {@link Copy} of the output gradient then {@link BlendBackward} on the copy, as one device
     * task: {@code dstructured = (1 - a) dout}, {@code dguide = a dout}, dout intact.
     */
    record BlendSplit(Tensor dout, Tensor dstructured, Tensor dguide, Tensor scalars, int switchSlot, int n)
            implements KernelCall {
        public void runCpu() {
            Fill.copyCpu(dout.data, dstructured.data, n);
            Blend.backwardCpu(dstructured.data, dguide.data, scalars.data, switchSlot, n);
        }
    }

    /**
     * Runs {@code inner} only while the guide switch is on. On the CPU the work is skipped; a
     * device backend may run it regardless, since the blend then ignores its result.
     */
    record WhenGuided(Tensor scalars, int switchSlot, KernelCall inner) implements KernelCall {
        public void runCpu() {
            if (scalars.data[switchSlot] != 0f) inner.runCpu();
        }
    }

    /** Rope at positions {@code pos[0] + r % seqLen}. */
    record RopeRotateAt(Tensor x, Tensor cos, Tensor sin, IntTensor pos, int rows, int seqLen, int heads, int d,
                        int rowStride) implements KernelCall {
        public void runCpu() {
            Rope.rotateCpu(x.data, cos.data, sin.data, rows, seqLen, pos.data[0], heads, d, rowStride, 1f);
        }
    }

    record PositionsAddAt(Tensor wpe, Tensor out, IntTensor pos, int rows, int seqLen, int c) implements KernelCall {
        public void runCpu() {
            Embedding.addPositionsCpu(wpe.data, out.data, rows, seqLen, pos.data[0], c);
        }
    }

    record LastRows(Tensor src, Tensor dst, int batch, int n, int c) implements KernelCall {
        public void runCpu() {
            Fill.lastRowsCpu(src.data, dst.data, batch, n, c);
        }
    }

    record KvAppend(Tensor qkv, Tensor kcache, Tensor vcache, IntTensor pos, int batch, int n, int maxLen, int nq, int nkv,
                    int d) implements KernelCall {
        public void runCpu() {
            KvCache.appendCpu(qkv.data, kcache.data, vcache.data, pos.data, batch, n, maxLen, nq, nkv, d);
        }
    }

    record KvAttention(Tensor qkv, Tensor kcache, Tensor vcache, Tensor out, Tensor scores, IntTensor pos, int batch, int n,
                       int maxLen, int nq, int nkv, int d) implements KernelCall {
        public void runCpu() {
            KvCache.attentionCpu(qkv.data, kcache.data, vcache.data, out.data, scores.data, pos.data, batch, n, maxLen, nq, nkv, d);
        }
    }

    /** {@link KvAppend} into bfloat16 caches; the rounded keys and values also replace those in {@code qkv}. */
    record Bf16KvAppend(Tensor qkv, ShortTensor kcache, ShortTensor vcache, IntTensor pos, int batch, int n, int maxLen,
                        int nq, int nkv, int d) implements KernelCall {
        public void runCpu() {
            KvCache.appendBf16Cpu(qkv.data, kcache.data, vcache.data, pos.data, batch, n, maxLen, nq, nkv, d);
        }
    }

    /** {@link KvAttention} over bfloat16 caches. */
    record Bf16KvAttention(Tensor qkv, ShortTensor kcache, ShortTensor vcache, Tensor out, Tensor scores, IntTensor pos,
                           int batch, int n, int maxLen, int nq, int nkv, int d) implements KernelCall {
        public void runCpu() {
            KvCache.attentionBf16Cpu(qkv.data, kcache.data, vcache.data, out.data, scores.data, pos.data, batch, n, maxLen, nq,
                    nkv, d);
        }
    }

    record AdamWUpdate(Tensor p, Tensor g, Tensor m, Tensor v, Tensor scalars,
                       float beta1, float beta2, float eps, float weightDecay) implements KernelCall {
        public void runCpu() {
            AdamW.updateCpu(p.data, g.data, m.data, v.data, scalars.data, p.size(), beta1, beta2, eps, weightDecay);
        }
    }

    /**
     * AdamW on 1 to {@link AdamW#GROUP} parameters of one weight decay in one launch: parameter
     * j's value, gradient and moments in pj, gj, mj, vj, those past the group null ({@link #of});
     * {@code hyper} holds beta1, beta2, eps and the weight decay ({@link AdamW#BETA1} ..).
     */
    record AdamWUpdateGroup(Tensor p0, Tensor g0, Tensor m0, Tensor v0, Tensor p1, Tensor g1, Tensor m1, Tensor v1,
                            Tensor p2, Tensor g2, Tensor m2, Tensor v2, Tensor scalars, Tensor hyper)
            implements KernelCall {
        public AdamWUpdateGroup {
            Tensor[][] slots = {{p0, g0, m0, v0}, {p1, g1, m1, v1}, {p2, g2, m2, v2}};
            int count = size(p1, p2);
            List<Tensor> values = new ArrayList<>();
            for (int j = 0; j < slots.length; j++) {
                for (Tensor t : slots[j]) {
                    if ((t == null) != (j >= count)) {
                        throw new IllegalArgumentException("AdamWUpdateGroup: parameter " + j + " of " + count
                                + " needs its value, gradient and both moments, and the slots after the group none");
                    }
                }
                if (j < count) values.add(slots[j][0]);
            }
            oneIndexSpace("AdamWUpdateGroup", values.toArray(new Tensor[0]));
        }

        /** A group of {@code params}, each {value, gradient, first moment, second moment}. */
        public static AdamWUpdateGroup of(List<Tensor[]> params, Tensor scalars, Tensor hyper) {
            if (params.isEmpty() || params.size() > AdamW.GROUP) {
                throw new IllegalArgumentException("AdamWUpdateGroup: " + params.size()
                        + " parameters; one launch holds 1 to " + AdamW.GROUP);
            }
            Tensor[][] q = new Tensor[AdamW.GROUP][4];
            for (int j = 0; j < params.size(); j++) q[j] = params.get(j);
            return new AdamWUpdateGroup(q[0][0], q[0][1], q[0][2], q[0][3], q[1][0], q[1][1], q[1][2], q[1][3], q[2][0],
                    q[2][1], q[2][2], q[2][3], scalars, hyper);
        }

        /** How many parameters the group holds: those before the first absent value. */
        public int count() {
            return size(p1, p2);
        }

        private static int size(Tensor p1, Tensor p2) {
            return p1 == null ? 1 : p2 == null ? 2 : 3;
        }

        /** The group's parameters, each {value, gradient, first moment, second moment}. */
        public List<Tensor[]> params() {
            List<Tensor[]> out = new ArrayList<>();
            out.add(new Tensor[] {p0, g0, m0, v0});
            if (p1 != null) out.add(new Tensor[] {p1, g1, m1, v1});
            if (p2 != null) out.add(new Tensor[] {p2, g2, m2, v2});
            return out;
        }

        public void runCpu() {
            AdamW.updateGroupCpu(p0.data, g0.data, m0.data, v0.data, data(p1), data(g1), data(m1), data(v1), data(p2),
                    data(g2), data(m2), data(v2), scalars.data, hyper.data, count());
        }
    }

    /**
     * {@link AdamW#updateFlat}: every parameter in one launch, from arrays that hold the
     * parameters (gradients, moments) of a kind one after another. A device backend writes it in
     * place of a plan's AdamW calls where it keeps parameters that way; its CPU body is the
     * portable one.
     */
    record AdamWFlat(Tensor pW, Tensor gW, Tensor mW, Tensor vW, Tensor pB, Tensor gB, Tensor mB, Tensor vB, Tensor scalars,
                     Tensor hyper, int nW, int nB, int decayW, int decayB) implements KernelCall {
        public void runCpu() {
            AdamW.updateFlat(pW.data, gW.data, mW.data, vW.data, pB.data, gB.data, mB.data, vB.data, scalars.data, hyper.data,
                    nW, nB, decayW, decayB);
        }
    }

    /** {@link GradNorm#partialSumsFlat}, in place of a plan's partial-sum calls (see {@link AdamWFlat}). */
    record GradNormFlat(Tensor gW, Tensor gB, Tensor partials, IntTensor slotOf, int chunksW, int chunksB)
            implements KernelCall {
        public void runCpu() {
            GradNorm.partialSumsFlat(gW.data, gB.data, partials.data, slotOf.data, chunksW, chunksB);
        }
    }

    record GradNormPartials(Tensor g, Tensor partials, int base) implements KernelCall {
        public void runCpu() {
            GradNorm.partialSumsCpu(g.data, partials.data, base, g.size());
        }
    }

    /**
     * The partial sums of squares of 1 to {@link GradNorm#GROUP} gradients in one launch, their
     * slots one after another from base: g0 .. g(count-1), the rest null ({@link #of}).
     */
    record GradNormPartialsGroup(Tensor g0, Tensor g1, Tensor g2, Tensor g3, Tensor g4, Tensor g5, Tensor g6, Tensor g7,
                                 Tensor partials, int base) implements KernelCall {
        public GradNormPartialsGroup {
            List<Tensor> g = Arrays.asList(g0, g1, g2, g3, g4, g5, g6, g7);
            int count = size(g1, g2, g3, g4, g5, g6, g7);
            if (g0 == null || g.subList(count, g.size()).stream().anyMatch(t -> t != null)) {
                throw new IllegalArgumentException("GradNormPartialsGroup: gradients " + g + "; one launch holds 1 to "
                        + GradNorm.GROUP + ", the first ones");
            }
        }

        public static GradNormPartialsGroup of(List<Tensor> grads, Tensor partials, int base) {
            if (grads.isEmpty() || grads.size() > GradNorm.GROUP) {
                throw new IllegalArgumentException("GradNormPartialsGroup: " + grads.size()
                        + " gradients; one launch holds 1 to " + GradNorm.GROUP);
            }
            Tensor[] g = grads.toArray(new Tensor[GradNorm.GROUP]);
            return new GradNormPartialsGroup(g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], partials, base);
        }

        /** How many gradients the group holds: those before the first absent one. */
        public int count() {
            return size(g1, g2, g3, g4, g5, g6, g7);
        }

        private static int size(Tensor g1, Tensor g2, Tensor g3, Tensor g4, Tensor g5, Tensor g6, Tensor g7) {
            return g1 == null ? 1 : g2 == null ? 2 : g3 == null ? 3 : g4 == null ? 4 : g5 == null ? 5 : g6 == null ? 6
                    : g7 == null ? 7 : 8;
        }

        /** The gradients, in slot order. */
        public List<Tensor> grads() {
            return Arrays.asList(g0, g1, g2, g3, g4, g5, g6, g7).stream().filter(t -> t != null).toList();
        }

        public void runCpu() {
            GradNorm.partialSumsGroupCpu(g0.data, data(g1), data(g2), data(g3), data(g4), data(g5), data(g6), data(g7),
                    partials.data, base, count());
        }
    }

    record GradNormFinish(Tensor partials, Tensor scalars, int count, float maxNorm) implements KernelCall {
        public void runCpu() {
            GradNorm.finishCpu(partials.data, scalars.data, count, maxNorm);
        }
    }

    /** A tensor's array, or null for an absent one (a group's unused slots). */
    private static float[] data(Tensor t) {
        return t == null ? null : t.data;
    }

    /** The elements of tensors that one launch indexes as one int range: refused past an int. */
    static void oneIndexSpace(String call, Tensor... ts) {
        if (fitOneIndexSpace(ts)) return;
        StringBuilder names = new StringBuilder();
        for (Tensor t : ts) names.append(names.length() > 0 ? ", " : "").append(t);
        throw new IllegalArgumentException(call + ": " + names + " hold more than " + Integer.MAX_VALUE
                + " elements together, more than one launch can index; give them calls of their own");
    }

    /** Whether the tensors' elements together fit one int index space. */
    static boolean fitOneIndexSpace(Tensor... ts) {
        long n = 0;
        for (Tensor t : ts) n += t.size();
        return n <= Integer.MAX_VALUE;
    }
}
