package sffn.kernels.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import sffn.kernels.AdamW;
import sffn.kernels.GradNorm;
import sffn.kernels.IntTensor;
import sffn.kernels.StepScalars;
import sffn.kernels.Tensor;
import sffn.kernels.plan.KernelCall;
import sffn.kernels.plan.KernelCall.AdamWFlat;
import sffn.kernels.plan.KernelCall.AdamWUpdateGroup;
import sffn.kernels.plan.KernelCall.GradNormFlat;
import sffn.kernels.plan.KernelCall.GradNormPartialsGroup;

/**
 * The device's shared parameter arrays, checked on the host (CI has no TornadoVM): which
 * layout the plans of a small model get, that the optimizer's calls become one launch each, that
 * those launches' portable bodies on the gathered arrays give each tensor the bits the plan's own
 * calls give it, and that plans which cannot share keep their arrays with a reason.
 */
class FlatParamsTest {
    private static final SplittableRandom R = new SplittableRandom(11);

    /** A model's tensors: parameters with gradients and moments, and the plan's sections over them. */
    private static final class Model {
        final Tensor[] w1 = param("w1", 5 * 7);
        final Tensor[] bias1 = param("bias1", 5);
        final Tensor[] lnw = param("ln.w", 7);
        final Tensor[] lnb = param("ln.b", 7);
        final Tensor[] emb = param("emb", 11 * 7);
        /** Two chunks of the gradient norm. */
        final Tensor[] w2 = param("w2", 3 * 1400);
        final Tensor scalars = stepScalars();
        final Tensor partials = new Tensor("partials", 64);
        final List<KernelCall> forwardBackward = new ArrayList<>();
        final List<KernelCall> zero = new ArrayList<>();
        final List<KernelCall> norm = new ArrayList<>();
        final List<KernelCall> adam = new ArrayList<>();

        Model() {
            IntTensor tokens = new IntTensor("tokens", 3);
            Tensor x0 = act("x0", 21);
            Tensor x1 = act("x1", 21);
            Tensor y = act("y", 15);
            Tensor mean = act("mean", 3);
            Tensor rstd = act("rstd", 3);
            forwardBackward.add(new KernelCall.EmbeddingForward(tokens, emb[0], x0, 3, 7));
            forwardBackward.add(new KernelCall.LayerNormForward(x0, lnw[0], lnb[0], x1, mean, rstd, 3, 7));
            forwardBackward.add(new KernelCall.MatmulForward(x1, w1[0], bias1[0], y, 3, 5, 7, false));
            forwardBackward.add(new KernelCall.MatmulForward(x1, w2[0], null, act("z", 9), 3, 3, 1400, false));
            forwardBackward.add(new KernelCall.MatmulBackwardInput(y, w1[0], act("dx1", 21), 3, 5, 7, false));
            forwardBackward.add(new KernelCall.MatmulBackwardWeight(y, x1, w1[1], 3, 5, 7, true));
            forwardBackward.add(new KernelCall.BiasBackward(y, bias1[1], 3, 5, true));
            forwardBackward.add(new KernelCall.MatmulBackwardWeight(act("dz", 9), x1, w2[1], 3, 3, 1400, true));
            forwardBackward.add(new KernelCall.LayerNormBackward(act("dx1b", 21), x0, lnw[0], mean, rstd, act("dx0", 21),
                    lnw[1], lnb[1], 3, 7, false));
            forwardBackward.add(new KernelCall.EmbeddingBackward(tokens, x0, emb[1], 3, 7));
            List<Tensor[]> all = List.of(w1, bias1, lnw, lnb, emb, w2);
            zero.add(new KernelCall.ZeroFour(w1[1], bias1[1], lnw[1], lnb[1]));
            zero.add(new KernelCall.Zero(emb[1]));
            zero.add(new KernelCall.Zero(w2[1]));
            List<Tensor> grads = new ArrayList<>();
            for (Tensor[] p : all) grads.add(p[1]);
            norm.add(GradNormPartialsGroup.of(grads, partials, 3));
            norm.add(new KernelCall.GradNormFinish(partials, scalars, 3 + 7, 1f));
            adam.add(AdamWUpdateGroup.of(List.of(w1, emb, w2), scalars, hyper(0.1f)));
            adam.add(AdamWUpdateGroup.of(List.of(bias1, lnw, lnb), scalars, hyper(0f)));
        }

        List<List<KernelCall>> sections() {
            return List.of(forwardBackward, zero, norm, adam);
        }
    }

    private static Tensor[] param(String name, int n) {
        return new Tensor[] {randn(name, n), randn(name + ".grad", n), randn(name + ".adam_m", n), positive(name + ".adam_v", n)};
    }

    private static Tensor act(String name, int n) {
        return new Tensor(name, n);
    }

    private static Tensor randn(String name, int n) {
        Tensor t = new Tensor(name, n);
        for (int i = 0; i < n; i++) t.data[i] = (float) (2 * R.nextDouble() - 1);
        return t;
    }

    private static Tensor positive(String name, int n) {
        Tensor t = randn(name, n);
        for (int i = 0; i < n; i++) t.data[i] = Math.abs(t.data[i]) + 0.01f;
        return t;
    }

    private static Tensor stepScalars() {
        Tensor s = new Tensor("scalars", StepScalars.size(0));
        s.data[StepScalars.LR] = 1e-3f;
        s.data[StepScalars.CLIP_SCALE] = 0.7f;
        s.data[StepScalars.BIAS_CORRECTION1] = 0.1f;
        s.data[StepScalars.BIAS_CORRECTION2] = 0.001f;
        return s;
    }

    private static Tensor hyper(float wd) {
        Tensor h = new Tensor("hyper", 4);
        h.data[AdamW.BETA1] = 0.9f;
        h.data[AdamW.BETA2] = 0.95f;
        h.data[AdamW.EPS] = 1e-8f;
        h.data[AdamW.WEIGHT_DECAY] = wd;
        return h;
    }

    @Test
    void weightsAndBiasesGetTheirOwnSharedArraysDecayedFirstAtChunkBoundaries() {
        Model m = new Model();
        FlatParams.Outcome o = FlatParams.plan(m.sections(), MatmulVariant.LOOP);
        assertNull(o.why(), "why the plans keep their arrays");
        FlatParams f = o.flat();
        DeviceSlices s = f.slices;
        int c = GradNorm.CHUNK;
        // Weights: w1, emb, w2 (decayed, in the plan's order), then ln.w; biases: bias1, ln.b.
        assertEquals(0, s.offset(m.w1[0]));
        assertEquals(c, s.offset(m.emb[0]));
        assertEquals(2 * c, s.offset(m.w2[0]));
        assertEquals(4 * c, s.offset(m.lnw[0]));
        assertEquals(0, s.offset(m.bias1[0]));
        assertEquals(c, s.offset(m.lnb[0]));
        assertSame(s.array(m.w1[0]), s.array(m.lnw[0]), "weights share an array");
        assertSame(s.array(m.w1[3]), s.array(m.w2[3]), "second moments of the weights share an array");
        assertTrue(s.array(m.w1[0]) != s.array(m.bias1[0]), "a weight and a bias are in different arrays");
        assertEquals(4 * c, s.offset(m.lnw[1]), "a gradient sits where its parameter does");

        List<KernelCall> adam = f.rewrite(m.adam);
        assertEquals(1, adam.size());
        AdamWFlat a = (AdamWFlat) adam.get(0);
        assertEquals(5 * c, a.nW());
        assertEquals(2 * c, a.nB());
        assertEquals(4 * c, a.decayW());
        assertEquals(0, a.decayB());
        List<KernelCall> norm = f.rewrite(m.norm);
        assertEquals(2, norm.size());
        assertTrue(norm.get(0) instanceof GradNormFlat);
        assertTrue(norm.get(1) instanceof KernelCall.GradNormFinish);
        List<KernelCall> zero = f.rewrite(m.zero);
        assertEquals(List.of(new KernelCall.Zero(a.gW()), new KernelCall.Zero(a.gB())), zero);
        assertEquals(m.forwardBackward, f.rewrite(m.forwardBackward), "the other calls stay");
    }

    /**
     * On the host arrays a device would hold: gather, the one-launch bodies, scatter give every
     * parameter, gradient and moment, and every partial sum, the bits of the plan's own calls.
     */
    @Test
    void oneLaunchBodiesOnTheSharedArraysGiveTheBitsOfThePlansCalls() {
        Model m = new Model();
        FlatParams f = FlatParams.plan(m.sections(), MatmulVariant.LOOP).flat();
        assertNotNull(f);
        List<Tensor[]> all = List.of(m.w1, m.bias1, m.lnw, m.lnb, m.emb, m.w2);
        float[][] before = new float[all.size() * 4][];
        for (int i = 0; i < all.size(); i++) for (int k = 0; k < 4; k++) before[4 * i + k] = all.get(i)[k].data.clone();

        // The plan's calls, one tensor at a time on the portable bodies.
        float[] partialsRef = new float[m.partials.size()];
        int base = 3;
        for (Tensor[] p : all) {
            GradNorm.partialSums(p[1].data, partialsRef, base, p[1].size());
            base += GradNorm.slots(p[1].size());
        }
        float[][] ref = new float[all.size() * 4][];
        for (int i = 0; i < all.size(); i++) {
            Tensor[] p = all.get(i);
            float wd = i == 0 || i == 4 || i == 5 ? 0.1f : 0f;
            AdamW.update(p[0].data, p[1].data, p[2].data, p[3].data, m.scalars.data, p[0].size(), 0.9f, 0.95f, 1e-8f, wd);
            for (int k = 0; k < 4; k++) ref[4 * i + k] = p[k].data.clone();
        }

        // The device's way, from the same start.
        for (int i = 0; i < all.size(); i++) {
            for (int k = 0; k < 4; k++) System.arraycopy(before[4 * i + k], 0, all.get(i)[k].data, 0, before[4 * i + k].length);
        }
        f.gather();
        for (KernelCall c : f.rewrite(m.norm)) if (c instanceof GradNormFlat) c.runCpu();
        for (KernelCall c : f.rewrite(m.adam)) c.runCpu();
        for (float[] member : f.memberArrays()) f.scatter(member);
        for (int i = 3; i < 3 + 7; i++) {
            assertEquals(Float.floatToRawIntBits(partialsRef[i]), Float.floatToRawIntBits(m.partials.data[i]), "partial slot " + i);
        }
        for (int i = 0; i < all.size(); i++) {
            for (int k = 0; k < 4; k++) {
                float[] got = all.get(i)[k].data;
                for (int j = 0; j < got.length; j++) {
                    if (Float.floatToRawIntBits(got[j]) != Float.floatToRawIntBits(ref[4 * i + k][j])) {
                        fail(all.get(i)[k].name + "[" + j + "]: " + got[j] + " on the shared arrays, " + ref[4 * i + k][j] + " alone");
                    }
                }
            }
        }
    }

    @Test
    void plansThatCannotShareKeepTheirArraysAndSayWhy() {
        assertTrue(FlatParams.plan(new Model().sections(), MatmulVariant.CUBLAS).why().contains("cuBLAS"));

        Model copied = new Model();
        copied.forwardBackward.add(new KernelCall.Copy(copied.w1[0], act("copy", 35), 35));
        assertTrue(FlatParams.plan(copied.sections(), MatmulVariant.LOOP).why().contains("without an offset"));

        Model both = new Model();
        both.forwardBackward.add(new KernelCall.MatmulForward(act("a", 7), both.lnb[0], null, act("c", 1), 1, 1, 7, false));
        assertTrue(FlatParams.plan(both.sections(), MatmulVariant.LOOP).why().contains("weight in one call and a bias"));

        // A ZeRO-1 shard: AdamW updates some parameters, the gradient norm reads them all.
        Model shard = new Model();
        shard.adam.remove(1);
        assertTrue(FlatParams.plan(shard.sections(), MatmulVariant.LOOP).why().contains("does not update"));

        Model decode = new Model();
        decode.adam.clear();
        assertEquals(FlatParams.NO_OPTIMIZER, FlatParams.plan(decode.sections(), MatmulVariant.LOOP).why());
    }
}
