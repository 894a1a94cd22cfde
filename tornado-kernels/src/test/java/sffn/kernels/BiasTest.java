package sffn.kernels;

import static sffn.kernels.Check.assertBodiesMatch;
import static sffn.kernels.Check.initialOutput;
import static sffn.kernels.Check.randn;
import static sffn.kernels.Check.toDouble;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import sffn.kernels.Check.Expected;

class BiasTest {
    /** y + bias is one correctly rounded float add (error <= u |y + b|, reached); 2u leaves the bound off the edge. */
    static final double ADD_TOL = 2 * Check.U;
    /** The bias gradient sums at most 67 + 1 terms: worst case 67 u sum|terms| < 1e-5 sum|terms|. */
    static final double SUM_TOL = 1e-5;

    @ParameterizedTest(name = "rows={0} cols={1}")
    @CsvSource({"1,1", "3,17", "17,31", "5,257", "67,300", "2,513"})
    void addMatchesFloat64(int rows, int cols) {
        SplittableRandom r = Check.rng("bias.add", rows, cols);
        float[] y = randn(r, rows * cols);
        float[] bias = randn(r, cols);
        float[] cpu = y.clone();
        float[] portable = y.clone();
        Bias.addCpu(cpu, bias, rows, cols);
        Bias.add(portable, Check.inSlice(bias), Check.SLICE_AT, rows, cols);
        double[] ref = new double[rows * cols];
        double[] mag = new double[rows * cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                ref[i * cols + j] = (double) y[i * cols + j] + bias[j];
                mag[i * cols + j] = Math.abs(y[i * cols + j]) + Math.abs(bias[j]);
            }
        }
        assertBodiesMatch("bias add", cpu, portable, new Expected(ref, mag), ADD_TOL);
    }

    /** Column blocks of the CPU body are 256 wide: cols 257, 300 and 513 leave ragged last blocks. */
    @ParameterizedTest(name = "rows={0} cols={1}")
    @CsvSource({"1,1", "3,17", "17,31", "5,257", "67,300", "2,513"})
    void backwardSumsRowsWithAndWithoutAccumulate(int rows, int cols) {
        for (int acc = 0; acc <= 1; acc++) {
            SplittableRandom r = Check.rng("bias.backward", rows, cols, acc);
            float[] dy = randn(r, rows * cols);
            float[] d0 = initialOutput(r, cols, acc == 1);
            float[] cpu = d0.clone();
            float[] slice = Check.inSlice(d0);
            Bias.backwardCpu(dy, cpu, rows, cols, acc == 1);
            Bias.backward(dy, slice, Check.SLICE_AT, rows, cols, acc);
            float[] portable = Check.outOfSlice("bias backward", slice, cols);
            assertBodiesMatch("bias backward accumulate=" + acc, cpu, portable,
                    MatmulTest.backwardBias(toDouble(dy), acc == 1 ? toDouble(d0) : null, rows, cols), SUM_TOL);
        }
    }
}
