package sffn.kernels.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.List;
import org.junit.jupiter.api.Test;
import sffn.kernels.Tensor;
import sffn.kernels.plan.KernelCall;
import sffn.kernels.StepScalars;
import sffn.kernels.plan.KernelCall.BiasAdd;
import sffn.kernels.plan.KernelCall.BlendBackward;
import sffn.kernels.plan.KernelCall.BlendForward;
import sffn.kernels.plan.KernelCall.BlendSplit;
import sffn.kernels.plan.KernelCall.Copy;
import sffn.kernels.plan.KernelCall.GeluForward;
import sffn.kernels.plan.KernelCall.GuidedMatmulForward;
import sffn.kernels.plan.KernelCall.MatmulGeluForward;
import sffn.kernels.plan.KernelCall.WhenGuided;
import sffn.kernels.plan.KernelCall.LayerNormForward;
import sffn.kernels.plan.KernelCall.MatmulForward;
import sffn.kernels.plan.KernelCall.ResidualAdd;
import sffn.kernels.plan.KernelCall.ResidualLayerNorm;
import sffn.kernels.plan.KernelCall.ResidualRmsNorm;
import sffn.kernels.plan.KernelCall.ResidualSum;
import sffn.kernels.plan.KernelCall.RmsNormForward;

/** Which adjacent calls become one device task, and that the fused call computes what the pair did. */
class FusionTest {
    private final Tensor a = random("a", 5, 7);
    private final Tensor b = random("b", 3, 7);
    private final Tensor bias = random("bias", 3);
    private final Tensor c = new Tensor("c", 5, 3);

    private static Tensor random(String name, int... shape) {
        Tensor t = new Tensor(name, shape);
        java.util.SplittableRandom r = new java.util.SplittableRandom(name.hashCode());
        for (int i = 0; i < t.size(); i++) t.data[i] = (float) r.nextGaussian();
        return t;
    }

    @Test
    void aForwardThenABiasAddOnItsOutputBecomeOneForwardWithTheBias() {
        List<KernelCall> calls = List.of(new MatmulForward(a, b, null, c, 5, 3, 7, false), new BiasAdd(c, bias, 5, 3),
                new ResidualAdd(c, a, 3));
        List<KernelCall> fused = Fusion.forDevice(calls, true);
        assertEquals(2, fused.size());
        MatmulForward f = (MatmulForward) fused.get(0);
        assertSame(bias, f.bias());
        assertSame(calls.get(2), fused.get(1));
        assertSameBits(calls.subList(0, 2), f, c);
    }

    /** The fused call writes bit for bit what the calls it replaces wrote, into every output (NaN first). */
    private static void assertSameBits(List<KernelCall> unfused, KernelCall fused, Tensor... outputs) {
        for (KernelCall k : unfused) k.runCpu();
        float[][] before = new float[outputs.length][];
        for (int t = 0; t < outputs.length; t++) {
            before[t] = outputs[t].data.clone();
            outputs[t].fill(Float.NaN);
        }
        fused.runCpu();
        for (int t = 0; t < outputs.length; t++) {
            for (int i = 0; i < before[t].length; i++) {
                assertEquals(Float.floatToIntBits(before[t][i]), Float.floatToIntBits(outputs[t].data[i]),
                        outputs[t].name + " element " + i);
            }
        }
    }

    /**
     * The residual stream as Gpt writes it: next = copy of prev, next += branch, then the norm of
     * next; rows of 37 (vectors and a scalar tail). The CPU backend merges the same calls.
     */
    @Test
    void aCopyThenAnAddOnTheCopyBecomeOneSumAndTakeTheNormAfterThem() {
        Tensor prev = random("prev", 5, 37);
        Tensor branch = random("branch", 5, 37);
        Tensor next = new Tensor("next", 5, 37);
        Tensor w = random("w", 37);
        Tensor bb = random("bb", 37);
        Tensor out = new Tensor("out", 5, 37);
        Tensor mean = new Tensor("mean", 5);
        Tensor rstd = new Tensor("rstd", 5);
        List<KernelCall> sumOnly = List.of(new Copy(prev, next, 185), new ResidualAdd(next, branch, 185),
                new BiasAdd(c, bias, 5, 3));
        List<KernelCall> fusedSum = Fusion.forDevice(sumOnly, true);
        assertEquals(2, fusedSum.size());
        assertEquals(new ResidualSum(prev, branch, next, 185), fusedSum.get(0));
        assertEquals(fusedSum, Fusion.forCpu(sumOnly));
        assertSameBits(sumOnly.subList(0, 2), fusedSum.get(0), next);
        List<KernelCall> withNorm = List.of(new Copy(prev, next, 185), new ResidualAdd(next, branch, 185),
                new LayerNormForward(next, w, bb, out, mean, rstd, 5, 37));
        List<KernelCall> fused = Fusion.forDevice(withNorm, true);
        assertEquals(List.of(new ResidualLayerNorm(prev, branch, next, w, bb, out, mean, rstd, 5, 37)), fused);
        assertEquals(fused, Fusion.forCpu(withNorm));
        assertSameBits(withNorm, fused.get(0), next, out, mean, rstd);
    }

    @Test
    void anRmsNormOfTheSumJoinsItToo() {
        Tensor prev = random("prev", 5, 37);
        Tensor branch = random("branch", 5, 37);
        Tensor next = new Tensor("next", 5, 37);
        Tensor w = random("w", 37);
        Tensor out = new Tensor("out", 5, 37);
        Tensor rstd = new Tensor("rstd", 5);
        List<KernelCall> calls = List.of(new Copy(prev, next, 185), new ResidualAdd(next, branch, 185),
                new RmsNormForward(next, w, out, rstd, 5, 37));
        List<KernelCall> fused = Fusion.forDevice(calls, true);
        assertEquals(List.of(new ResidualRmsNorm(prev, branch, next, w, out, rstd, 5, 37)), fused);
        assertEquals(fused, Fusion.forCpu(calls));
        assertSameBits(calls, fused.get(0), next, out, rstd);
    }

    /** The CPU runs the GEMM epilogues as separate passes (no faster fused there, see Fusion.forCpu). */
    @Test
    void theCpuLeavesTheGeluAndTheBlendAfterTheirProducts() {
        Tensor out = new Tensor("out", 5, 3);
        List<KernelCall> calls = List.of(new MatmulForward(a, b, bias, c, 5, 3, 7, false), new GeluForward(c, out, 15));
        assertEquals(calls, Fusion.forCpu(calls));
        assertEquals(1, Fusion.forDevice(calls, true).size());
    }

    @Test
    void residualSumsNeedTheAddOnTheCopyAndDistinctTensors() {
        Tensor prev = random("prev", 5, 3);
        Tensor next = new Tensor("next", 5, 3);
        List<List<KernelCall>> cases = List.of(
                List.of(new Copy(prev, next, 15), new ResidualAdd(prev, a, 15)),              // adds to the source
                List.of(new Copy(prev, next, 15), new ResidualAdd(next, next, 15)),           // adds the copy to itself
                List.of(new Copy(prev, next, 15), new ResidualAdd(next, prev, 15)),           // adds the source
                List.of(new Copy(prev, next, 12), new ResidualAdd(next, a, 15)),              // other lengths
                List.of(new ResidualAdd(next, a, 15), new Copy(prev, next, 15)));              // wrong order
        for (List<KernelCall> calls : cases) assertEquals(calls, Fusion.forDevice(calls, true));
        // A norm that writes what the sum reads stays a call of its own.
        List<KernelCall> clobber = List.of(new Copy(prev, next, 15), new ResidualAdd(next, a, 15),
                new LayerNormForward(next, bias, bias, prev, new Tensor("m", 5), new Tensor("r", 5), 5, 3));
        List<KernelCall> fused = Fusion.forDevice(clobber, true);
        assertEquals(List.of(new ResidualSum(prev, a, next, 15), clobber.get(2)), fused);
    }

    @Test
    void otherPairsAreLeftAlone() {
        Tensor other = new Tensor("other", 5, 3);
        List<List<KernelCall>> cases = List.of(
                List.of(new MatmulForward(a, b, null, c, 5, 3, 7, true), new BiasAdd(c, bias, 5, 3)),  // accumulates
                List.of(new MatmulForward(a, b, null, c, 5, 3, 7, false), new BiasAdd(other, bias, 5, 3)), // another tensor
                List.of(new MatmulForward(a, b, bias, c, 5, 3, 7, false), new BiasAdd(c, bias, 5, 3)),  // has a bias
                List.of(new BiasAdd(c, bias, 5, 3), new MatmulForward(a, b, null, c, 5, 3, 7, false))); // wrong order
        for (List<KernelCall> calls : cases) assertEquals(calls, Fusion.forDevice(calls, true));
    }

    @Test
    void aForwardWithItsBiasThenItsGeluBecomeOneEpilogueKernelOnlyWhenRegisterTiled() {
        Tensor act = new Tensor("act", 5, 3);
        List<KernelCall> calls = List.of(new MatmulForward(a, b, null, c, 5, 3, 7, false), new BiasAdd(c, bias, 5, 3),
                new GeluForward(c, act, 15));
        List<KernelCall> fused = Fusion.forDevice(calls, true);
        assertEquals(List.of(new MatmulGeluForward(a, b, bias, c, act, 5, 3, 7)), fused);
        assertSameBits(calls, fused.get(0), c, act);
        // The other matmul bodies keep the GELU a task of its own (the bias still joins the forward).
        assertEquals(List.of(new MatmulForward(a, b, bias, c, 5, 3, 7, false), calls.get(2)), Fusion.forDevice(calls, false));
        List<List<KernelCall>> apart = List.of(
                List.of(new MatmulForward(a, b, null, c, 5, 3, 7, true), new GeluForward(c, act, 15)),   // accumulates
                List.of(new MatmulForward(a, b, null, c, 5, 3, 7, false), new GeluForward(act, c, 15)),  // GELU of another
                List.of(new MatmulForward(a, b, null, c, 5, 3, 7, false), new GeluForward(c, act, 12)),  // part of it
                List.of(new MatmulForward(a, b, null, c, 5, 3, 7, false), new GeluForward(c, a, 15)));   // over an input
        for (List<KernelCall> l : apart) assertEquals(l, Fusion.forDevice(l, true));
    }

    /** Step scalars with the guide switch in slot {@code slot} on and the guide weight 0.3. */
    private static Tensor scalars(int slot) {
        Tensor s = new Tensor("scalars", Math.max(slot, StepScalars.GUIDE_ALPHA) + 1);
        s.data[slot] = 1f;
        s.data[StepScalars.GUIDE_ALPHA] = 0.3f;
        return s;
    }

    @Test
    void theGuidesProductThenItsBlendBecomeOneEpilogueKernelThatStillWritesTheProduct() {
        Tensor sc = scalars(9);
        Tensor g = new Tensor("guide.y", 5, 3);
        Tensor y = random("y", 5, 3);
        List<KernelCall> calls = List.of(new WhenGuided(sc, 9, new MatmulForward(a, b, null, g, 5, 3, 7, false)),
                new BlendForward(g, y, sc, 9, 15));
        List<KernelCall> fused = Fusion.forDevice(calls, true);
        assertEquals(List.of(new GuidedMatmulForward(a, b, g, y, sc, 9, 5, 3, 7)), fused);
        // y is blended in place: both runs start from the same y; the product starts as NaN.
        float[] y0 = y.data.clone();
        for (float on : new float[] {1f, 0f}) {
            sc.data[9] = on;
            g.fill(Float.NaN);
            System.arraycopy(y0, 0, y.data, 0, y0.length);
            for (KernelCall k : calls) k.runCpu();
            float[] gWant = g.data.clone();
            float[] yWant = y.data.clone();
            g.fill(Float.NaN);
            System.arraycopy(y0, 0, y.data, 0, y0.length);
            fused.get(0).runCpu();
            for (int i = 0; i < y0.length; i++) {
                assertEquals(Float.floatToIntBits(gWant[i]), Float.floatToIntBits(g.data[i]), "g element " + i);
                assertEquals(Float.floatToIntBits(yWant[i]), Float.floatToIntBits(y.data[i]), "y element " + i);
            }
        }
        // Switch off: y stays, as the unfused pair leaves it.
        for (int i = 0; i < y0.length; i++) assertEquals(Float.floatToIntBits(y0[i]), Float.floatToIntBits(y.data[i]));
        assertEquals(calls, Fusion.forDevice(calls, false));
        List<List<KernelCall>> apart = List.of(
                List.of(new WhenGuided(sc, 9, new MatmulForward(a, b, null, g, 5, 3, 7, false)), new BlendForward(g, y, sc, 8, 15)),
                List.of(new WhenGuided(sc, 9, new MatmulForward(a, b, bias, g, 5, 3, 7, false)), new BlendForward(g, y, sc, 9, 15)),
                List.of(new WhenGuided(sc, 9, new MatmulForward(a, b, null, g, 5, 3, 7, false)), new BlendForward(y, g, sc, 9, 15)));
        for (List<KernelCall> l : apart) assertEquals(l, Fusion.forDevice(l, true));
    }

    @Test
    void aCopyOfTheGradientThenTheBlendsBackwardOnTheCopyBecomeOneSplit() {
        Tensor sc = scalars(7);
        Tensor dy = random("dy", 5, 3);
        Tensor dys = new Tensor("dys", 5, 3);
        Tensor dyg = new Tensor("dyg", 5, 3);
        List<KernelCall> calls = List.of(new Copy(dy, dys, 15), new BlendBackward(dys, dyg, sc, 7, 15));
        for (boolean register : new boolean[] {true, false}) {
            List<KernelCall> fused = Fusion.forDevice(calls, register);
            assertEquals(List.of(new BlendSplit(dy, dys, dyg, sc, 7, 15)), fused);
            float[] dy0 = dy.data.clone();
            assertSameBits(calls, fused.get(0), dys, dyg);
            for (int i = 0; i < dy0.length; i++) assertEquals(Float.floatToIntBits(dy0[i]), Float.floatToIntBits(dy.data[i]));
        }
        List<List<KernelCall>> apart = List.of(
                List.of(new Copy(dy, dys, 15), new BlendBackward(dy, dyg, sc, 7, 15)),     // blends the source
                List.of(new Copy(dy, dys, 12), new BlendBackward(dys, dyg, sc, 7, 15)),    // other lengths
                List.of(new Copy(dy, dys, 15), new BlendBackward(dys, dy, sc, 7, 15)));    // writes the source
        for (List<KernelCall> l : apart) assertEquals(l, Fusion.forDevice(l, true));
    }
}
