package sffn.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import sffn.kernels.Tensor;
import sffn.kernels.plan.Plan;
import sffn.nn.config.PostInit;
import sffn.nn.layers.BlockDenseLinear;
import sffn.nn.layers.BlockShuffleLinear;
import sffn.nn.layers.DenseLinear;
import sffn.nn.layers.Linear;
import sffn.nn.layers.LinearLayer;
import sffn.nn.layers.LowRankLinear;

/** Every structure folded into one dense matrix computes what the structure computes. */
class MergedWeightTest {
    /** Relative max-norm error between the float32 structured and merged forwards. */
    static final double TOLERANCE = 1e-5;

    static Stream<Arguments> structures() {
        return Stream.of(
                Arguments.of(new LowRankLinear("lr", 24, 40, 7, PostInit.SVD)),
                Arguments.of(new LowRankLinear("lr", 40, 24, 9, PostInit.NONE)),
                Arguments.of(new BlockDenseLinear("bd", 24, 40, 12, 3, PostInit.ORTHO)),
                Arguments.of(new BlockDenseLinear("bd", 40, 24, 10, 5, PostInit.NONE)),
                Arguments.of(new BlockShuffleLinear("bs", 24, 40, 4, PostInit.ORTHO)),
                Arguments.of(new BlockShuffleLinear("bs", 40, 24, 4, PostInit.NONE)),
                Arguments.of(new BlockShuffleLinear("bs", 30, 30, 3, PostInit.ORTHO)));
    }

    @ParameterizedTest
    @MethodSource("structures")
    void mergedDenseForwardEqualsStructuredForward(Linear structure) {
        structure.init(3, 0.5);
        LinearLayer layer = new LinearLayer("l", structure, false);
        float[] merged = layer.mergedWeight();
        int rows = 13;
        Tensor x = new Tensor("x", rows, structure.in());
        Random rng = new Random(5);
        for (int i = 0; i < x.size(); i++) x.data[i] = (float) rng.nextGaussian();
        Tensor ys = new Tensor("ys", rows, structure.out());
        Tensor yd = new Tensor("yd", rows, structure.out());
        ys.fill(Float.NaN);
        yd.fill(Float.NaN);
        Parameter w = new Parameter("merged", false, structure.out(), structure.in());
        System.arraycopy(merged, 0, w.value.data, 0, merged.length);
        Plan plan = new Plan("merge check");
        structure.forward(plan, new Buffers(), x, ys, rows);
        new DenseLinear(w).forward(plan, new Buffers(), x, yd, rows);
        plan.runCpu();
        double err = 0;
        double ref = 0;
        for (int i = 0; i < ys.size(); i++) {
            assertTrue(Float.isFinite(ys.data[i]) && Float.isFinite(yd.data[i]), "unwritten or NaN output at " + i);
            err = Math.max(err, Math.abs(ys.data[i] - yd.data[i]));
            ref = Math.max(ref, Math.abs(ys.data[i]));
        }
        assertTrue(err <= TOLERANCE * ref, structure.getClass().getSimpleName() + ": max err " + err + " vs max |y| " + ref);
    }

}
