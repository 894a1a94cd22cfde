package sffn.kernels.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import sffn.kernels.Bias;
import sffn.kernels.Check;
import sffn.kernels.Tensor;
import sffn.kernels.plan.KernelCall;
import sffn.kernels.plan.KernelCall.BlockDiagBackwardInput;
import sffn.kernels.plan.KernelCall.BlockDiagBackwardWeight;
import sffn.kernels.plan.KernelCall.BlockDiagForward;
import sffn.kernels.plan.KernelCall.MatmulBackwardInput;
import sffn.kernels.plan.KernelCall.MatmulBackwardWeight;
import sffn.kernels.plan.KernelCall.MatmulForward;

/**
 * What the cuBLAS provider is handed for each call of the matmul family computes what the call's
 * CPU body computes. No NVIDIA GPU is needed: the cuBLAS calls run on {@link #cublas}, a float64
 * model of {@code cublasSgemm} and {@code cublasSgemmStridedBatched} that reads its arguments by
 * position, in the order TornadoVM's {@code CuBlasLibraryProvider} passes them to the library, with
 * column-major operands and cuBLAS's checks of the leading dimensions. So the row-major to
 * column-major swap, the transposes, the leading dimensions, the blocks' strides and beta are all
 * checked; that TornadoVM and cuBLAS do what the model does is for a GPU to show
 * ({@code TornadoKernelAgreementTest} runs the cuBLAS variant on a CUDA device).
 *
 * <p>Sizes are odd and unequal, so a swapped dimension or leading dimension reads the wrong
 * elements. Outputs that are overwritten start as NaN (an unwritten element, or a beta-0 call that
 * reads C, fails); accumulated ones start random. Bound: 1e-5 of the output's largest magnitude,
 * for sums of at most 53 float32 products of O(1) values (the CPU body's own rounding).
 */
class CublasGemmTest {
    private static final double TOL = 1e-5;

    private record Case(String name, Function<Tensors, KernelCall> call, String output) {
    }

    /** The tensors of one case by name, filled from a seeded generator (the same values for both runs). */
    private static final class Tensors {
        private final SplittableRandom r;
        final java.util.Map<String, Tensor> byName = new java.util.HashMap<>();

        Tensors(long seed) {
            r = new SplittableRandom(seed);
        }

        Tensor randn(String name, int... shape) {
            Tensor t = new Tensor(name, shape);
            System.arraycopy(Check.randn(r, t.size()), 0, t.data, 0, t.size());
            byName.put(name, t);
            return t;
        }

        Tensor out(String name, boolean accumulate, int... shape) {
            Tensor t = new Tensor(name, shape);
            System.arraycopy(Check.initialOutput(r, t.size(), accumulate), 0, t.data, 0, t.size());
            byName.put(name, t);
            return t;
        }
    }

    private static List<Case> cases() {
        int m = 37;
        int n = 29;
        int k = 53;
        int rows = 23;
        int nb = 3;
        int q = 13;
        int p = 11;
        List<Case> cs = new ArrayList<>();
        for (boolean acc : new boolean[] {false, true}) {
            String a = acc ? " acc" : "";
            cs.add(new Case("matmul forward" + a, w -> new MatmulForward(w.randn("a", m, k), w.randn("b", n, k), null,
                    w.out("c", acc, m, n), m, n, k, acc), "c"));
            cs.add(new Case("matmul forward + bias" + a, w -> new MatmulForward(w.randn("a", m, k), w.randn("b", n, k),
                    w.randn("bias", n), w.out("c", acc, m, n), m, n, k, acc), "c"));
            cs.add(new Case("matmul backward input" + a, w -> new MatmulBackwardInput(w.randn("dc", m, n), w.randn("b", n, k),
                    w.out("da", acc, m, k), m, n, k, acc), "da"));
            cs.add(new Case("matmul backward weight" + a, w -> new MatmulBackwardWeight(w.randn("dc", m, n),
                    w.randn("a", m, k), w.out("db", acc, n, k), m, n, k, acc), "db"));
            cs.add(new Case("blockdiag forward" + a, w -> new BlockDiagForward(w.randn("x", rows, nb * p),
                    w.randn("w", nb, q, p), w.out("y", acc, rows, nb * q), rows, nb, q, p, acc), "y"));
            cs.add(new Case("blockdiag backward input" + a, w -> new BlockDiagBackwardInput(w.randn("dy", rows, nb * q),
                    w.randn("w", nb, q, p), w.out("dx", acc, rows, nb * p), rows, nb, q, p, acc), "dx"));
            cs.add(new Case("blockdiag backward weight" + a, w -> new BlockDiagBackwardWeight(w.randn("dy", rows, nb * q),
                    w.randn("x", rows, nb * p), w.out("dw", acc, nb, q, p), rows, nb, q, p, acc), "dw"));
        }
        return cs;
    }

    @Test
    void everyMatmulCallAsCublasArgumentsMatchesItsCpuBody() {
        List<String> failures = new ArrayList<>();
        int seed = 1;
        for (Case c : cases()) {
            seed++;
            Tensors cpu = new Tensors(seed);
            c.call().apply(cpu).runCpu();
            Tensors dev = new Tensors(seed);
            KernelCall call = c.call().apply(dev);
            GemmShape g = GemmShape.of(call);
            CublasGemm cb = CublasGemm.of(g);
            cublas(cb.function(), cb.parameters());
            // TaskMapper's bias add after the library task.
            if (g.bias() != null) Bias.add(g.c(), g.bias(), g.biasOff(), g.m(), g.n());
            double err = Check.relativeError(dev.byName.get(c.output()).data, cpu.byName.get(c.output()).data);
            if (!(err <= TOL)) failures.add(c.name() + ": relative error " + err + " (bound " + TOL + ")");
        }
        if (!failures.isEmpty()) fail(String.join("\n", failures));
    }

    @Test
    void theBlockDiagonalProductsAreOneStridedBatchedCallAndTheDenseOnesOneGemm() {
        for (Case c : cases()) {
            CublasGemm cb = CublasGemm.of(GemmShape.of(c.call().apply(new Tensors(7))));
            boolean block = c.name().startsWith("blockdiag");
            assertEquals(block ? "cublasSgemmStridedBatched" : "cublasSgemm", cb.function(), c.name());
            assertEquals(block ? 17 : 13, cb.parameters().length, c.name());
            assertTrue(cb.parameters()[cb.outputIndex()] == cb.c(), c.name() + ": C is where the provider writes");
            assertEquals(c.name().endsWith(" acc") ? 1f : 0f, cb.beta(), c.name());
        }
        assertNull(GemmShape.of(new KernelCall.Zero(new Tensor("z", 3))));
    }

    /**
     * cuBLAS's SGEMM, column-major, in float64: {@code C = alpha op(A) op(B) + beta C} for each of
     * {@code batch} problems {@code stride} floats apart; with beta 0, C is not read.
     */
    static void cublas(String function, Object[] p) {
        boolean batched = function.equals("cublasSgemmStridedBatched");
        if (!batched && !function.equals("cublasSgemm")) throw new IllegalArgumentException(function);
        assertEquals(batched ? 17 : 13, p.length, function + " parameters");
        int transa = (Integer) p[0];
        int transb = (Integer) p[1];
        int m = (Integer) p[2];
        int n = (Integer) p[3];
        int k = (Integer) p[4];
        float alpha = (Float) p[5];
        int at = 6;
        float[] a = (float[]) p[at++];
        int lda = (Integer) p[at++];
        long strideA = batched ? (Long) p[at++] : 0;
        float[] b = (float[]) p[at++];
        int ldb = (Integer) p[at++];
        long strideB = batched ? (Long) p[at++] : 0;
        float beta = (Float) p[at++];
        float[] c = (float[]) p[at++];
        int ldc = (Integer) p[at++];
        long strideC = batched ? (Long) p[at++] : 0;
        int batch = batched ? (Integer) p[at] : 1;
        // cuBLAS refuses these (CUBLAS_STATUS_INVALID_VALUE).
        assertTrue(transa == CublasGemm.OP_N || transa == CublasGemm.OP_T, "transa " + transa);
        assertTrue(transb == CublasGemm.OP_N || transb == CublasGemm.OP_T, "transb " + transb);
        assertTrue(m >= 0 && n >= 0 && k >= 0 && batch >= 1, "sizes");
        assertTrue(lda >= Math.max(1, transa == CublasGemm.OP_N ? m : k), "lda " + lda);
        assertTrue(ldb >= Math.max(1, transb == CublasGemm.OP_N ? k : n), "ldb " + ldb);
        assertTrue(ldc >= Math.max(1, m), "ldc " + ldc);
        for (int z = 0; z < batch; z++) {
            for (int j = 0; j < n; j++) {
                for (int i = 0; i < m; i++) {
                    double s = 0;
                    for (int l = 0; l < k; l++) {
                        double x = transa == CublasGemm.OP_N ? a[(int) (z * strideA + i + (long) l * lda)]
                                : a[(int) (z * strideA + l + (long) i * lda)];
                        double y = transb == CublasGemm.OP_N ? b[(int) (z * strideB + l + (long) j * ldb)]
                                : b[(int) (z * strideB + j + (long) l * ldb)];
                        s += x * y;
                    }
                    int ci = (int) (z * strideC + i + (long) j * ldc);
                    c[ci] = (float) (alpha * s + (beta == 0f ? 0 : beta * (double) c[ci]));
                }
            }
        }
    }
}
