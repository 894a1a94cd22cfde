package sffn.train;

import java.util.List;
import sffn.kernels.GradNorm;
import sffn.kernels.Tensor;
import sffn.kernels.plan.KernelCall.AdamWUpdate;
import sffn.kernels.plan.KernelCall.GradNormFinish;
import sffn.kernels.plan.KernelCall.GradNormPartials;
import sffn.kernels.plan.KernelCall.Zero;
import sffn.kernels.plan.Plan;
import sffn.nn.Parameter;

/**
 * The optimizer side of a step as plans: zeroing the gradients, the global gradient norm with
 * the clipping factor (left in the step scalars), and AdamW on every parameter. The norm and the
 * update are separate plans so the host can refuse a non-finite norm before any weight changes,
 * and so that a data-parallel all-reduce of the gradients can run between backward and them.
 */
public final class OptimizerPlans {
    public final Plan zeroGrads;
    public final Plan gradNorm;
    public final Plan update;

    public OptimizerPlans(List<Parameter> params, Tensor scalars, TrainConfig c) {
        this(params, params, scalars, c);
    }

    /**
     * @param updated the parameters this process updates (ZeRO-1: its shard; their AdamW moments are
     *                the only ones it allocates)
     */
    public OptimizerPlans(List<Parameter> params, List<Parameter> updated, Tensor scalars, TrainConfig c) {
        zeroGrads = new Plan("zero grads");
        for (Parameter p : params) zeroGrads.add(new Zero(p.grad()));

        int slots = 0;
        for (Parameter p : params) slots += GradNorm.slots(p.size());
        Tensor partials = new Tensor("grad_norm.partials", Math.max(1, slots));
        gradNorm = new Plan("grad norm");
        int base = 0;
        for (Parameter p : params) {
            gradNorm.add(new GradNormPartials(p.grad(), partials, base));
            base += GradNorm.slots(p.size());
        }
        gradNorm.add(new GradNormFinish(partials, scalars, slots, (float) c.gradClip()));
        gradNorm.hostOutputs(scalars);

        update = new Plan("adamw");
        for (Parameter p : updated) {
            // Weight decay on matrices and embeddings only, not on norm gains and biases.
            float wd = p.decay ? (float) c.weightDecay() : 0f;
            update.add(new AdamWUpdate(p.value, p.grad(), p.adamM(), p.adamV(), scalars,
                    (float) c.beta1(), (float) c.beta2(), (float) c.eps(), wd));
        }
    }
}
