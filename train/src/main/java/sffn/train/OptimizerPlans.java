package sffn.train;

import java.util.ArrayList;
import java.util.List;
import sffn.kernels.AdamW;
import sffn.kernels.GradNorm;
import sffn.kernels.Tensor;
import sffn.kernels.plan.KernelCall;
import sffn.kernels.plan.KernelCall.AdamWUpdate;
import sffn.kernels.plan.KernelCall.AdamWUpdateGroup;
import sffn.kernels.plan.KernelCall.GradNormFinish;
import sffn.kernels.plan.KernelCall.GradNormPartials;
import sffn.kernels.plan.KernelCall.GradNormPartialsGroup;
import sffn.kernels.plan.KernelCall.Zero;
import sffn.kernels.plan.KernelCall.ZeroFour;
import sffn.kernels.plan.Plan;
import sffn.nn.Parameter;

/**
 * The optimizer side of a step as plans: zeroing the gradients, the global gradient norm with
 * the clipping factor (left in the step scalars), and AdamW on every parameter, which also
 * zeroes the gradients it reads. The norm and the update are separate plans so the host can
 * refuse a non-finite norm before any weight changes, and so that a data-parallel all-reduce of
 * the gradients can run between backward and them.
 */
public final class OptimizerPlans {
    /** Every gradient zeroed: before the first step of these plans. */
    public final Plan zeroGrads;
    /**
     * The gradients of the parameters this process does not update (ZeRO-1: the other ranks'
     * shards; none otherwise), zeroed before every later step: AdamW leaves the gradients of the
     * parameters it updates zero.
     */
    public final Plan zeroOthers;
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
        // Several tensors per call where the call can hold them: on a device each call is a
        // launch, and the optimizer's were half of a small model's step (one per tensor).
        zeroGrads = zeroing("zero grads", params);
        zeroOthers = zeroing("zero others' grads", params.stream().filter(p -> !updated.contains(p)).toList());

        int slots = 0;
        for (Parameter p : params) slots += GradNorm.slots(p.size());
        Tensor partials = new Tensor("grad_norm.partials", Math.max(1, slots));
        gradNorm = new Plan("grad norm");
        int base = 0;
        for (int i = 0; i < params.size(); i += GradNorm.GROUP) {
            List<Tensor> group = params.subList(i, Math.min(params.size(), i + GradNorm.GROUP)).stream()
                    .map(Parameter::grad).toList();
            gradNorm.add(group.size() == 1 ? new GradNormPartials(group.get(0), partials, base)
                    : GradNormPartialsGroup.of(group, partials, base));
            for (Tensor g : group) base += GradNorm.slots(g.size());
        }
        gradNorm.add(new GradNormFinish(partials, scalars, slots, (float) c.gradClip()));
        gradNorm.hostOutputs(scalars);

        update = new Plan("adamw");
        // Weight decay on matrices and embeddings only, not on norm gains and biases; a group
        // shares its weight decay.
        for (boolean decay : new boolean[] {true, false}) {
            float wd = decay ? (float) c.weightDecay() : 0f;
            Tensor hyper = new Tensor(decay ? "adamw.decay" : "adamw.no_decay", 4);
            hyper.data[AdamW.BETA1] = (float) c.beta1();
            hyper.data[AdamW.BETA2] = (float) c.beta2();
            hyper.data[AdamW.EPS] = (float) c.eps();
            hyper.data[AdamW.WEIGHT_DECAY] = wd;
            List<Parameter> group = new ArrayList<>();
            for (Parameter p : updated) {
                if (p.decay != decay) continue;
                if (!group.isEmpty() && (group.size() == AdamW.GROUP || !fitOneIndexSpace(group, p))) {
                    update.add(adamW(group, scalars, hyper));
                    group.clear();
                }
                group.add(p);
            }
            if (!group.isEmpty()) update.add(adamW(group, scalars, hyper));
        }
    }

    private static Plan zeroing(String name, List<Parameter> params) {
        Plan plan = new Plan(name);
        int i = 0;
        while (i < params.size()) {
            if (i + 4 <= params.size() && KernelCall.fitOneIndexSpace(params.get(i).grad(), params.get(i + 1).grad(),
                    params.get(i + 2).grad(), params.get(i + 3).grad())) {
                plan.add(new ZeroFour(params.get(i).grad(), params.get(i + 1).grad(), params.get(i + 2).grad(),
                        params.get(i + 3).grad()));
                i += 4;
            } else {
                plan.add(new Zero(params.get(i++).grad()));
            }
        }
        return plan;
    }

    /** One call for a group of parameters of one weight decay: a plain one for a group of one. */
    private static KernelCall adamW(List<Parameter> group, Tensor scalars, Tensor hyper) {
        float[] h = hyper.data;
        if (group.size() == 1) {
            Parameter p = group.get(0);
            return new AdamWUpdate(p.value, p.grad(), p.adamM(), p.adamV(), scalars, h[AdamW.BETA1], h[AdamW.BETA2],
                    h[AdamW.EPS], h[AdamW.WEIGHT_DECAY]);
        }
        return AdamWUpdateGroup.of(group.stream().map(p -> new Tensor[] {p.value, p.grad(), p.adamM(), p.adamV()}).toList(),
                scalars, hyper);
    }

    private static boolean fitOneIndexSpace(List<Parameter> group, Parameter next) {
        Tensor[] values = new Tensor[group.size() + 1];
        for (int i = 0; i < group.size(); i++) values[i] = group.get(i).value;
        values[group.size()] = next.value;
        return KernelCall.fitOneIndexSpace(values);
    }
}
