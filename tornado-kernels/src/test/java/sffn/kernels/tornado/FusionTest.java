package sffn.kernels.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.List;
import org.junit.jupiter.api.Test;
import sffn.kernels.Tensor;
import sffn.kernels.plan.KernelCall;
import sffn.kernels.plan.KernelCall.BiasAdd;
import sffn.kernels.plan.KernelCall.MatmulForward;
import sffn.kernels.plan.KernelCall.ResidualAdd;

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
        List<KernelCall> fused = Fusion.fuse(calls);
        assertEquals(2, fused.size());
        MatmulForward f = (MatmulForward) fused.get(0);
        assertSame(bias, f.bias());
        assertSame(calls.get(2), fused.get(1));
        // bit for bit what the two calls give on the CPU
        calls.get(0).runCpu();
        calls.get(1).runCpu();
        float[] pair = c.data.clone();
        c.fill(Float.NaN);
        f.runCpu();
        for (int i = 0; i < pair.length; i++) assertEquals(Float.floatToIntBits(pair[i]), Float.floatToIntBits(c.data[i]));
    }

    @Test
    void otherPairsAreLeftAlone() {
        Tensor other = new Tensor("other", 5, 3);
        List<List<KernelCall>> cases = List.of(
                List.of(new MatmulForward(a, b, null, c, 5, 3, 7, true), new BiasAdd(c, bias, 5, 3)),  // accumulates
                List.of(new MatmulForward(a, b, null, c, 5, 3, 7, false), new BiasAdd(other, bias, 5, 3)), // another tensor
                List.of(new MatmulForward(a, b, bias, c, 5, 3, 7, false), new BiasAdd(c, bias, 5, 3)),  // has a bias
                List.of(new BiasAdd(c, bias, 5, 3), new MatmulForward(a, b, null, c, 5, 3, 7, false))); // wrong order
        for (List<KernelCall> calls : cases) assertEquals(calls, Fusion.fuse(calls));
    }
}
