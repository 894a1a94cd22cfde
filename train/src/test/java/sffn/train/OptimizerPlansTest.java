package sffn.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import sffn.kernels.AdamW;
import sffn.kernels.GradNorm;
import sffn.kernels.StepScalars;
import sffn.kernels.Tensor;
import sffn.nn.Parameter;

/**
 * The optimizer's plans, several tensors per call, do what one call per tensor did: every
 * gradient zeroed, the gradient norm's slots in parameter order (the same norm and clip bits),
 * every updated parameter stepped once with its own weight decay (the same bits), its gradient
 * left zero; and in fewer calls: a quarter of the tensors per zeroing call, an eighth per norm
 * call, a third per AdamW call.
 */
class OptimizerPlansTest {

    @ParameterizedTest(name = "{0} parameters")
    @ValueSource(ints = {1, 2, 4, 5, 7, 9, 11})
    void severalTensorsPerCallGiveTheBitsOfOneCallEach(int count) {
        SplittableRandom r = new SplittableRandom(count);
        TrainConfig c = TrainConfig.defaults();
        List<Parameter> params = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int n = 1 + r.nextInt(i % 3 == 0 ? 3 * GradNorm.CHUNK : 300);
            Parameter p = new Parameter("p" + i, r.nextBoolean(), n);
            for (int j = 0; j < n; j++) {
                p.value.data[j] = (float) r.nextGaussian();
                p.grad().data[j] = (float) r.nextGaussian();
                p.adamM().data[j] = (float) r.nextGaussian() * 0.1f;
                p.adamV().data[j] = (float) r.nextDouble();
            }
            params.add(p);
        }
        // The updated shard: every other parameter (ZeRO-1), or all of them.
        List<Parameter> updated = count > 4 ? params.stream().filter(p -> p.name.hashCode() % 2 == 0).toList() : params;
        Tensor scalars = new Tensor("scalars", StepScalars.size(0));
        scalars.data[StepScalars.LR] = 1e-3f;
        scalars.data[StepScalars.BIAS_CORRECTION1] = 0.1f;
        scalars.data[StepScalars.BIAS_CORRECTION2] = 0.05f;
        OptimizerPlans plans = new OptimizerPlans(params, updated, scalars, c);

        // One call per tensor, as before.
        int slots = 0;
        for (Parameter p : params) slots += GradNorm.slots(p.size());
        float[] partials = new float[slots];
        int base = 0;
        for (Parameter p : params) {
            GradNorm.partialSumsCpu(p.grad().data, partials, base, p.size());
            base += GradNorm.slots(p.size());
        }
        float[] want = scalars.data.clone();
        GradNorm.finishCpu(partials, want, slots, (float) c.gradClip());
        plans.gradNorm.runCpu();
        assertEquals(Float.floatToRawIntBits(want[StepScalars.GRAD_NORM]), Float.floatToRawIntBits(scalars.data[StepScalars.GRAD_NORM]));
        assertEquals(Float.floatToRawIntBits(want[StepScalars.CLIP_SCALE]), Float.floatToRawIntBits(scalars.data[StepScalars.CLIP_SCALE]));

        List<float[][]> expected = new ArrayList<>();
        List<float[]> grads = new ArrayList<>();
        for (Parameter p : params) {
            float[][] s = {p.value.data.clone(), p.adamM().data.clone(), p.adamV().data.clone()};
            grads.add(p.grad().data.clone());
            if (updated.contains(p)) {
                AdamW.updateCpu(s[0], p.grad().data.clone(), s[1], s[2], scalars.data, p.size(), (float) c.beta1(),
                        (float) c.beta2(), (float) c.eps(), p.decay ? (float) c.weightDecay() : 0f);
            }
            expected.add(s);
        }
        plans.update.runCpu();
        for (int i = 0; i < count; i++) {
            Parameter p = params.get(i);
            float[][] got = {p.value.data, p.adamM().data, p.adamV().data};
            for (int t = 0; t < 3; t++) {
                for (int j = 0; j < p.size(); j++) {
                    assertEquals(Float.floatToRawIntBits(expected.get(i)[t][j]), Float.floatToRawIntBits(got[t][j]),
                            p.name + " tensor " + t + "[" + j + "]");
                }
            }
            // AdamW leaves the gradients it read zero, and no other.
            for (int j = 0; j < p.size(); j++) {
                int zeroed = updated.contains(p) ? 0 : Float.floatToRawIntBits(grads.get(i)[j]);
                assertEquals(zeroed, Float.floatToRawIntBits(p.grad().data[j]), p.name + ".grad[" + j + "] after AdamW");
            }
        }

        plans.zeroOthers.runCpu();
        for (Parameter p : params) {
            for (int j = 0; j < p.size(); j++) assertEquals(0, Float.floatToRawIntBits(p.grad().data[j]), p.name + ".grad[" + j + "]");
        }
        for (Parameter p : params) p.grad().fill(Float.NaN);
        plans.zeroGrads.runCpu();
        for (Parameter p : params) {
            for (int j = 0; j < p.size(); j++) assertEquals(0, Float.floatToRawIntBits(p.grad().data[j]), p.name + ".grad[" + j + "]");
        }

        int others = count - updated.size();
        assertEquals(others / 4 + others % 4, plans.zeroOthers.size(), "zeroing calls for the others' gradients");
        assertEquals(count / 4 + count % 4, plans.zeroGrads.size(), "zeroing calls");
        assertEquals((count + GradNorm.GROUP - 1) / GradNorm.GROUP + 1, plans.gradNorm.size(), "grad norm calls");
        long decayed = updated.stream().filter(p -> p.decay).count();
        long plain = updated.size() - decayed;
        assertEquals((decayed + AdamW.GROUP - 1) / AdamW.GROUP + (plain + AdamW.GROUP - 1) / AdamW.GROUP, plans.update.size(),
                "AdamW calls");
    }
}
