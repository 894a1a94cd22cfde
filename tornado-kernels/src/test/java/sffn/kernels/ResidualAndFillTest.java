package sffn.kernels;

import static sffn.kernels.Check.assertBitsEqual;
import static sffn.kernels.Check.assertBodiesMatch;
import static sffn.kernels.Check.poisoned;
import static sffn.kernels.Check.randn;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import sffn.kernels.Check.Expected;

class ResidualAndFillTest {
    /** x + y is one correctly rounded float add (<= u |x + y|, reached); 2u keeps off the edge. */
    static final double ADD_TOL = 2 * Check.U;

    /** Sizes off the vector length, and past several CPU chunks (16384 for add, 65536 for fill). */
    @ParameterizedTest(name = "n={0}")
    @ValueSource(ints = {1, 3, 17, 33, 130, 32785, 131075})
    void residualAddsInPlace(int n) {
        SplittableRandom r = Check.rng("residual", n);
        float[] x = randn(r, n);
        float[] y = randn(r, n);
        float[] cpu = x.clone();
        float[] portable = x.clone();
        Residual.addCpu(cpu, y, n);
        Residual.add(portable, y, n);
        double[] ref = new double[n];
        double[] mag = new double[n];
        for (int i = 0; i < n; i++) {
            ref[i] = (double) x[i] + y[i];
            mag[i] = Math.abs(x[i]) + Math.abs(y[i]);
        }
        assertBodiesMatch("residual add", cpu, portable, new Expected(ref, mag), ADD_TOL);
    }

    @ParameterizedTest(name = "n={0}")
    @ValueSource(ints = {1, 3, 17, 33, 130, 32785, 131075})
    void zeroClearsAndCopyCopiesExactly(int n) {
        SplittableRandom r = Check.rng("fill", n);
        float[] zeroCpu = poisoned(n);
        float[] zeroPortable = poisoned(n);
        Fill.zeroCpu(zeroCpu, n);
        Fill.zero(zeroPortable, n);
        assertBitsEqual("zero (CPU body)", new float[n], zeroCpu);
        assertBitsEqual("zero (portable body)", new float[n], zeroPortable);

        float[] src = randn(r, n);
        float[] copyCpu = poisoned(n);
        float[] copyPortable = poisoned(n);
        Fill.copyCpu(src, copyCpu, n);
        Fill.copy(src, copyPortable, n);
        assertBitsEqual("copy (CPU body)", src, copyCpu);
        assertBitsEqual("copy (portable body)", src, copyPortable);
    }
}
