package sffn.kernels;

import static sffn.kernels.Check.assertBitsEqual;
import static sffn.kernels.Check.assertBodiesMatch;
import static sffn.kernels.Check.initialOutput;
import static sffn.kernels.Check.randn;
import static sffn.kernels.Check.toDouble;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import sffn.kernels.Check.Expected;
import sffn.kernels.plan.KernelCall;

/**
 * The products that read bf16 and int8 weights as stored, both bodies, against float64 products
 * of the dequantised weights: sizes that are not multiples of the vector length or of the int8
 * group (so groups end inside vectors and rows end inside groups), more rows than the tile
 * path takes (the widened-panel path), accumulate on and off, outputs poisoned with NaN.
 */
class CompactMatmulTest {
    /**
     * The longest sums have 129 products plus a partial sum per int8 group and the addend:
     * (n-1) u < 1e-5 bounds them in any order.
     */
    static final double TOL = 1e-5;

    private static CompactWeight compress(String name, float[] w, WeightFormat f, int... shape) {
        Tensor t = new Tensor(name, shape);
        System.arraycopy(w, 0, t.data, 0, w.length);
        return CompactWeight.compress(t, f);
    }

    /** Runs the CPU body through its kernel call, the portable body directly. */
    private static float[][] matmul(CompactWeight w, float[] a, float[] c0, int m, int n, int k, int acc) {
        Tensor at = tensor("a", a, m, k);
        Tensor cpu = tensor("c", c0.clone(), m, n);
        KernelCall call = w.matmul(at, cpu, m, n, k, acc == 1);
        call.runCpu();
        float[] portable = c0.clone();
        switch (w) {
            case CompactWeight.Bf16Weight b -> Bf16Matmul.forward(a, b.bits().data, portable, m, n, k, acc);
            case CompactWeight.Int8Weight q -> Int8Matmul.forward(a, q.q().data, q.scale().data, portable, m, n, k,
                    Int8Groups.GROUP, acc);
        }
        return new float[][] {cpu.data, portable};
    }

    private static Tensor tensor(String name, float[] v, int... shape) {
        Tensor t = new Tensor(name, shape);
        System.arraycopy(v, 0, t.data, 0, v.length);
        return t;
    }

    @ParameterizedTest(name = "{0} m={1} n={2} k={3}")
    @CsvSource({"bf16,1,1,1", "bf16,1,7,33", "bf16,3,17,31", "bf16,5,19,70", "bf16,8,33,100", "bf16,4,6,129",
            "bf16,9,7,45", "bf16,16,5,15", "bf16,24,35,66", "bf16,1,9,15", "bf16,1,131,800",
            "bf16,67,9,45", "bf16,70,70,17",
            "int8,1,1,1", "int8,1,7,33", "int8,3,17,31", "int8,2,19,70", "int8,3,6,129", "int8,2,5,64",
            "int8,5,19,70", "int8,8,33,100", "int8,4,6,129", "int8,17,9,45", "int8,67,9,45", "int8,70,70,17",
            "int8,1,37,200", "int8,1,5,31", "int8,6,5,224", "int8,1,5,96", "int8,1,131,800",
            "bf16,1,4,16", "bf16,1,11,47", "int8,1,4,64", "int8,1,11,33", "int8,1,263,96"})
    void productMatchesFloat64OfTheDequantisedWeights(String format, int m, int n, int k) {
        WeightFormat f = WeightFormat.parse(format);
        for (int acc = 0; acc <= 1; acc++) {
            SplittableRandom r = Check.rng("compact.matmul." + format, m, n, k, acc);
            float[] a = randn(r, m * k);
            CompactWeight w = compress("w", randn(r, n * k, 0.05), f, n, k);
            float[] c0 = initialOutput(r, m * n, acc == 1);
            float[][] got = matmul(w, a, c0, m, n, k, acc);
            Expected ref = MatmulTest.forward(toDouble(a), toDouble(w.dequantised()), null,
                    acc == 1 ? toDouble(c0) : null, m, n, k);
            assertBodiesMatch(format + " matmul accumulate=" + acc, got[0], got[1], ref, TOL);
        }
    }

    /**
     * On the tile path a sequence's result does not depend on how many others share the step
     * (bf16 up to 64 rows, int8 below {@link sffn.kernels.cpu.Int8Gemm#PANEL_M}).
     */
    @ParameterizedTest(name = "{0} m={1} n={2} k={3}")
    @CsvSource({"bf16,11,9,77", "int8,11,9,77", "bf16,7,5,32", "int8,2,6,100", "int8,9,7,200", "int8,5,3,31",
            "int8,3,5,96", "int8,3,131,800", "bf16,19,8,50", "bf16,8,40,16", "bf16,3,131,800",
            "bf16,2,263,96", "int8,2,263,96", "bf16,1,8,20"})
    void aRowGetsTheSameBitsAtEveryBatchSizeOfTheTilePath(String format, int m, int n, int k) {
        WeightFormat f = WeightFormat.parse(format);
        SplittableRandom r = Check.rng("compact.batch." + format, n, k);
        float[] a = randn(r, m * k);
        CompactWeight w = compress("w", randn(r, n * k), f, n, k);
        float[] all = matmul(w, a, Check.poisoned(m * n), m, n, k, 0)[0];
        for (int i = 0; i < m; i++) {
            float[] row = new float[k];
            System.arraycopy(a, i * k, row, 0, k);
            float[] one = matmul(w, row, Check.poisoned(n), 1, n, k, 0)[0];
            float[] want = new float[n];
            System.arraycopy(all, i * n, want, 0, n);
            assertBitsEqual(format + " row " + i + " alone vs in a batch of " + m, want, one);
        }
    }

    @ParameterizedTest(name = "{0} rows={1} nb={2} q={3} p={4}")
    @CsvSource({"bf16,1,3,5,37", "bf16,4,2,17,33", "bf16,70,2,9,40", "bf16,2,4,16,64",
            "int8,1,3,5,37", "int8,4,2,17,33", "int8,70,2,9,40", "int8,2,4,16,64", "int8,3,1,7,1"})
    void blockDiagonalProductMatchesFloat64OfTheDequantisedWeights(String format, int rows, int nb, int q, int p) {
        WeightFormat f = WeightFormat.parse(format);
        for (int acc = 0; acc <= 1; acc++) {
            SplittableRandom r = Check.rng("compact.blockdiag." + format, rows, nb, q, p, acc);
            float[] x = randn(r, rows * nb * p);
            CompactWeight w = compress("w", randn(r, nb * q * p, 0.05), f, nb, q, p);
            float[] y0 = initialOutput(r, rows * nb * q, acc == 1);
            Tensor yt = tensor("y", y0.clone(), rows, nb * q);
            w.blockDiag(tensor("x", x, rows, nb * p), yt, rows, nb, q, p, acc == 1).runCpu();
            float[] portable = y0.clone();
            switch (w) {
                case CompactWeight.Bf16Weight b -> Bf16Matmul.blockDiagForward(x, b.bits().data, portable, rows, nb, q, p, acc);
                case CompactWeight.Int8Weight qw -> Int8Matmul.blockDiagForward(x, qw.q().data, qw.scale().data, portable,
                        rows, nb, q, p, Int8Groups.GROUP, acc);
            }
            Expected ref = BlockDiagMatmulTest.forward(toDouble(x), toDouble(w.dequantised()),
                    acc == 1 ? toDouble(y0) : null, rows, nb, q, p);
            assertBodiesMatch(format + " block-diagonal accumulate=" + acc, yt.data, portable, ref, TOL);
        }
    }
}
