package sffn.nn;

import sffn.kernels.IntTensor;
import sffn.kernels.Tensor;
import sffn.kernels.plan.KernelCall.CrossEntropyForwardBackward;
import sffn.kernels.plan.Plan;

/**
 * One micro-step of training for a fixed (batch, seqLen): forward, per-token loss, and backward
 * into the parameters' gradients, as one plan. The host writes {@link #tokens},
 * {@link #targets} and the model's step scalars before a run and reads {@link #losses} after;
 * {@code scalars[LOSS_SCALE]} must be one over the targets counted in the whole step.
 */
public final class TrainingGraph {
    public final int batch;
    public final int seqLen;
    public final IntTensor tokens;
    public final IntTensor targets;
    public final Tensor losses;
    public final Plan plan;
    public final Buffers buffers = new Buffers();

    public TrainingGraph(Gpt model, int batch, int seqLen) {
        this.batch = batch;
        this.seqLen = seqLen;
        int rows = batch * seqLen;
        tokens = buffers.ints("tokens", rows);
        targets = buffers.ints("targets", rows);
        losses = buffers.get("losses", rows);
        plan = new Plan("train " + batch + "x" + seqLen);
        Tensor logits = model.forward(plan, buffers, tokens, batch, seqLen);
        plan.add(new CrossEntropyForwardBackward(logits, targets, losses, logits, model.scalars(), rows,
                model.config.vocabSize()));
        model.backward(plan, buffers, tokens, logits, batch, seqLen);
        plan.hostInputs(tokens, targets, model.scalars());
        plan.hostOutputs(losses);
    }

    /** Sum of the per-token losses of the last run (read {@link #losses} to the host first). */
    public double lossSum() {
        double s = 0;
        for (float l : losses.data) s += l;
        return s;
    }
}
