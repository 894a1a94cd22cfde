package sffn.nn;

import sffn.kernels.IntTensor;
import sffn.kernels.Tensor;
import sffn.kernels.plan.KernelCall.CrossEntropyForward;
import sffn.kernels.plan.Plan;

/** Forward and per-token loss for a fixed (batch, seqLen), without gradients. */
public final class EvalGraph {
    public final int batch;
    public final int seqLen;
    public final IntTensor tokens;
    public final IntTensor targets;
    public final Tensor losses;
    public final Tensor logits;
    public final Plan plan;
    public final Buffers buffers;

    public EvalGraph(Gpt model, int batch, int seqLen) {
        this(model, batch, seqLen, new Buffers());
    }

    /** Shares {@code buffers} with another graph of the model (e.g. training's), so activations are not held twice. */
    public EvalGraph(Gpt model, int batch, int seqLen, Buffers buffers) {
        this.buffers = buffers;
        this.batch = batch;
        this.seqLen = seqLen;
        int rows = batch * seqLen;
        tokens = buffers.ints("tokens", rows);
        targets = buffers.ints("targets", rows);
        losses = buffers.get("losses", rows);
        plan = new Plan("eval " + batch + "x" + seqLen);
        logits = model.forward(plan, buffers, tokens, batch, seqLen);
        plan.add(new CrossEntropyForward(logits, targets, losses, rows, model.config.vocabSize()));
        plan.hostInputs(tokens, targets, model.scalars());
        plan.hostOutputs(losses);
    }
}
