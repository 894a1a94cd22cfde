package sffn.kernels;

import static sffn.kernels.Check.assertBitsEqual;
import static sffn.kernels.Check.assertMatchesFiniteDifferences;
import static sffn.kernels.Check.poisoned;
import static sffn.kernels.Check.randn;
import static sffn.kernels.Check.toDouble;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The shuffle only moves values, so every comparison here is bit for bit. */
class ShuffleTest {

    /** out[r, j*a + i] = in[r, i*b + j]: each row read as an (a, b) matrix and written transposed. */
    static double[] forward(double[] in, int rows, int a, int b) {
        double[] out = new double[in.length];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < a; i++) {
                for (int j = 0; j < b; j++) {
                    out[r * a * b + j * a + i] = in[r * a * b + i * b + j];
                }
            }
        }
        return out;
    }

    /** The transpose of forward: din[r, i*b + j] = dout[r, j*a + i]. */
    static double[] backward(double[] dout, int rows, int a, int b) {
        double[] din = new double[dout.length];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < a; i++) {
                for (int j = 0; j < b; j++) {
                    din[r * a * b + i * b + j] = dout[r * a * b + j * a + i];
                }
            }
        }
        return din;
    }

    @ParameterizedTest(name = "rows={0} a={1} b={2}")
    @CsvSource({"1,1,1", "3,3,17", "5,17,3", "2,31,33", "4,1,7", "3,7,1", "1,16,16"})
    void forwardWritesEachRowTransposed(int rows, int a, int b) {
        SplittableRandom r = Check.rng("shuffle.forward", rows, a, b);
        float[] in = randn(r, rows * a * b);
        float[] cpu = poisoned(in.length);
        float[] portable = poisoned(in.length);
        Shuffle.forwardCpu(in, cpu, rows, a, b);
        Shuffle.forward(in, portable, rows, a, b);
        float[] ref = Check.toFloat(forward(toDouble(in), rows, a, b));
        assertBitsEqual("shuffle forward (CPU body)", ref, cpu);
        assertBitsEqual("shuffle forward (portable body)", ref, portable);
    }

    /** The backward is the same kernel with a and b swapped; that is the transpose (and, for a permutation, the inverse). */
    @ParameterizedTest(name = "rows={0} a={1} b={2}")
    @CsvSource({"1,1,1", "3,3,17", "5,17,3", "2,31,33", "4,1,7"})
    void swappingAAndBGivesTheTranspose(int rows, int a, int b) {
        SplittableRandom r = Check.rng("shuffle.backward", rows, a, b);
        float[] dout = randn(r, rows * a * b);
        float[] cpu = poisoned(dout.length);
        float[] portable = poisoned(dout.length);
        Shuffle.forwardCpu(dout, cpu, rows, b, a);
        Shuffle.forward(dout, portable, rows, b, a);
        float[] ref = Check.toFloat(backward(toDouble(dout), rows, a, b));
        assertBitsEqual("shuffle backward (CPU body)", ref, cpu);
        assertBitsEqual("shuffle backward (portable body)", ref, portable);

        float[] roundTrip = poisoned(dout.length);
        Shuffle.forwardCpu(cpu, roundTrip, rows, a, b);
        assertBitsEqual("shuffle(a,b) after shuffle(b,a)", dout, roundTrip);
    }

    @ParameterizedTest(name = "rows={0} a={1} b={2}")
    @CsvSource({"1,1,1", "2,3,5", "3,4,1"})
    void float64BackwardMatchesFiniteDifferences(int rows, int a, int b) {
        SplittableRandom r = Check.rng("shuffle.fd", rows, a, b);
        double[] x = toDouble(randn(r, rows * a * b));
        double[] dout = toDouble(randn(r, rows * a * b));
        assertMatchesFiniteDifferences("shuffle backward", backward(dout, rows, a, b),
                v -> Check.dot(dout, forward(v, rows, a, b)), x);
    }
}
