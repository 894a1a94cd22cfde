package sffn.kernels.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import sffn.kernels.AdamW;
import sffn.kernels.Attention;
import sffn.kernels.Bf16Matmul;
import sffn.kernels.Bias;
import sffn.kernels.Blend;
import sffn.kernels.BlockDiagMatmul;
import sffn.kernels.CompactWeight;
import sffn.kernels.CrossEntropy;
import sffn.kernels.Embedding;
import sffn.kernels.Fill;
import sffn.kernels.Gelu;
import sffn.kernels.GradNorm;
import sffn.kernels.Int8Matmul;
import sffn.kernels.IntTensor;
import sffn.kernels.KvCache;
import sffn.kernels.LayerNorm;
import sffn.kernels.Matmul;
import sffn.kernels.Residual;
import sffn.kernels.RmsNorm;
import sffn.kernels.Rope;
import sffn.kernels.ShortTensor;
import sffn.kernels.Shuffle;
import sffn.kernels.StepScalars;
import sffn.kernels.SwiGlu;
import sffn.kernels.Tensor;
import sffn.kernels.WeightFormat;

/**
 * Each KernelCall record runs the CPU body it names, with its arguments in the right places:
 * {@code call.runCpu()} must leave every tensor bit for bit as a direct call of the body does on
 * copies. Sizes are all different so that swapped arguments show.
 */
class KernelCallTest {
    private static final SplittableRandom R = new SplittableRandom(20240520);

    /** A kernel call and the direct CPU-body call it should equal, over copies of the call's tensors in component order. */
    record Case(KernelCall call, Consumer<Object[]> direct) {
        @Override
        public String toString() {
            return call.getClass().getSimpleName();
        }
    }

    static Tensor t(String name, int... shape) {
        Tensor x = new Tensor(name, shape);
        for (int i = 0; i < x.size(); i++) x.data[i] = (float) (2 * R.nextDouble() - 1);
        return x;
    }

    /** bfloat16 values rounded from {@link #t}'s draws. */
    static ShortTensor bf16(String name, int... shape) {
        Tensor x = t(name, shape);
        ShortTensor b = new ShortTensor(name, shape);
        sffn.kernels.Bf16.compress(x.data, b.data);
        return b;
    }

    static Tensor positive(String name, int... shape) {
        Tensor x = t(name, shape);
        for (int i = 0; i < x.size(); i++) x.data[i] = Math.abs(x.data[i]) + 0.1f;
        return x;
    }

    static Tensor of(String name, float[] values) {
        Tensor x = new Tensor(name, values.length);
        System.arraycopy(values, 0, x.data, 0, values.length);
        return x;
    }

    static IntTensor ints(String name, int bound, int n) {
        IntTensor x = new IntTensor(name, n);
        for (int i = 0; i < n; i++) x.data[i] = R.nextInt(bound);
        return x;
    }

    /**
     * {@link AdamW#update} of elements [from, to) of the arrays at {@code at} .. {@code at + 3} of an
     * {@link KernelCall.AdamWFlat}'s copies (scalars at 8, hyper at 9), through copies of the range.
     */
    static void adamWRange(Object[] a, int at, int from, int to, float wd) {
        float[][] x = new float[4][];
        for (int i = 0; i < 4; i++) x[i] = java.util.Arrays.copyOfRange(f(a, at + i), from, to);
        float[] h = f(a, 9);
        AdamW.update(x[0], x[1], x[2], x[3], f(a, 8), to - from, h[AdamW.BETA1], h[AdamW.BETA2], h[AdamW.EPS], wd);
        for (int i = 0; i < 4; i++) System.arraycopy(x[i], 0, f(a, at + i), from, to - from);
    }

    static float[] f(Object[] a, int i) {
        return (float[]) a[i];
    }

    static int[] n(Object[] a, int i) {
        return (int[]) a[i];
    }

    static short[] s(Object[] a, int i) {
        return (short[]) a[i];
    }

    static Tensor scalars(float guideSwitch) {
        Tensor s = positive("scalars", StepScalars.size(2));
        s.data[StepScalars.GUIDE_ALPHA] = 0.3f;
        s.data[StepScalars.GUIDE_SWITCHES + 1] = guideSwitch;
        return s;
    }

    static Stream<Arguments> cases() {
        List<Case> c = new ArrayList<>();
        int m = 3;
        int nn = 5;
        int k = 7;
        c.add(new Case(new KernelCall.MatmulForward(t("a", m, k), t("b", nn, k), t("bias", nn), t("c", m, nn), m, nn, k, true),
                a -> Matmul.forwardCpu(f(a, 0), f(a, 1), f(a, 2), f(a, 3), m, nn, k, true)));
        c.add(new Case(new KernelCall.MatmulForward(t("a", m, k), t("b", nn, k), null, t("c", m, nn), m, nn, k, false),
                a -> Matmul.forwardCpu(f(a, 0), f(a, 1), null, f(a, 2), m, nn, k, false)));
        c.add(new Case(new KernelCall.MatmulBackwardInput(t("dc", m, nn), t("b", nn, k), t("da", m, k), m, nn, k, true),
                a -> Matmul.backwardInputCpu(f(a, 0), f(a, 1), f(a, 2), m, nn, k, true)));
        c.add(new Case(new KernelCall.MatmulBackwardWeight(t("dc", m, nn), t("a", m, k), t("db", nn, k), m, nn, k, false),
                a -> Matmul.backwardWeightCpu(f(a, 0), f(a, 1), f(a, 2), m, nn, k, false)));
        c.add(new Case(new KernelCall.BiasAdd(t("y", m, nn), t("bias", nn), m, nn),
                a -> Bias.addCpu(f(a, 0), f(a, 1), m, nn)));
        c.add(new Case(new KernelCall.BiasBackward(t("dy", m, nn), t("dbias", nn), m, nn, true),
                a -> Bias.backwardCpu(f(a, 0), f(a, 1), m, nn, true)));

        // bfloat16 tensors are copied and compared like the others; int8 weights are read only: the
        // direct call takes the same byte[] the record holds.
        CompactWeight.Bf16Weight wb = (CompactWeight.Bf16Weight) CompactWeight.compress(t("wb", nn, 37), WeightFormat.BF16);
        CompactWeight.Int8Weight wq = (CompactWeight.Int8Weight) CompactWeight.compress(t("wq", nn, 37), WeightFormat.INT8);
        c.add(new Case(new KernelCall.Bf16MatmulForward(t("a", m, 37), wb.bits(), t("c", m, nn), m, nn, 37, true),
                a -> Bf16Matmul.forwardCpu(f(a, 0), s(a, 1), f(a, 2), m, nn, 37, true)));
        c.add(new Case(new KernelCall.Int8MatmulForward(t("a", m, 37), wq.q(), wq.scale(), t("c", m, nn), m, nn, 37, false),
                a -> Int8Matmul.forwardCpu(f(a, 0), wq.q().data, f(a, 1), f(a, 2), m, nn, 37, false)));
        CompactWeight.Bf16Weight db = (CompactWeight.Bf16Weight) CompactWeight.compress(t("db", 3, 5, 33), WeightFormat.BF16);
        CompactWeight.Int8Weight dq = (CompactWeight.Int8Weight) CompactWeight.compress(t("dq", 3, 5, 33), WeightFormat.INT8);
        c.add(new Case(new KernelCall.Bf16BlockDiagForward(t("x", 4, 3 * 33), db.bits(), t("y", 4, 3 * 5), 4, 3, 5, 33, false),
                a -> Bf16Matmul.blockDiagForwardCpu(f(a, 0), s(a, 1), f(a, 2), 4, 3, 5, 33, false)));
        c.add(new Case(new KernelCall.Int8BlockDiagForward(t("x", 4, 3 * 33), dq.q(), dq.scale(), t("y", 4, 3 * 5), 4, 3, 5, 33,
                true), a -> Int8Matmul.blockDiagForwardCpu(f(a, 0), dq.q().data, f(a, 1), f(a, 2), 4, 3, 5, 33, true)));

        int rows = 4;
        int nb = 3;
        int q = 5;
        int p = 2;
        c.add(new Case(new KernelCall.BlockDiagForward(t("x", rows, nb * p), t("w", nb, q, p), t("y", rows, nb * q),
                rows, nb, q, p, false), a -> BlockDiagMatmul.forwardCpu(f(a, 0), f(a, 1), f(a, 2), rows, nb, q, p, false)));
        c.add(new Case(new KernelCall.BlockDiagBackwardInput(t("dy", rows, nb * q), t("w", nb, q, p), t("dx", rows, nb * p),
                rows, nb, q, p, true),
                a -> BlockDiagMatmul.backwardInputCpu(f(a, 0), f(a, 1), f(a, 2), rows, nb, q, p, true)));
        c.add(new Case(new KernelCall.BlockDiagBackwardWeight(t("dy", rows, nb * q), t("x", rows, nb * p), t("dw", nb, q, p),
                rows, nb, q, p, true),
                a -> BlockDiagMatmul.backwardWeightCpu(f(a, 0), f(a, 1), f(a, 2), rows, nb, q, p, true)));
        c.add(new Case(new KernelCall.ShuffleRows(t("in", rows, 3 * 5), t("out", rows, 3 * 5), rows, 3, 5),
                a -> Shuffle.forwardCpu(f(a, 0), f(a, 1), rows, 3, 5)));

        int ch = 17;
        c.add(new Case(new KernelCall.LayerNormForward(t("x", rows, ch), t("w", ch), t("b", ch), t("out", rows, ch),
                t("mean", rows), t("rstd", rows), rows, ch),
                a -> LayerNorm.forwardCpu(f(a, 0), f(a, 1), f(a, 2), f(a, 3), f(a, 4), f(a, 5), rows, ch)));
        c.add(new Case(new KernelCall.LayerNormBackward(t("dout", rows, ch), t("x", rows, ch), t("w", ch), t("mean", rows),
                positive("rstd", rows), t("dx", rows, ch), t("dw", ch), t("db", ch), rows, ch, true),
                a -> LayerNorm.backwardCpu(f(a, 0), f(a, 1), f(a, 2), f(a, 3), f(a, 4), f(a, 5), f(a, 6), f(a, 7),
                        rows, ch, true)));
        c.add(new Case(new KernelCall.RmsNormForward(t("x", rows, ch), t("w", ch), t("out", rows, ch), t("rstd", rows), rows, ch),
                a -> RmsNorm.forwardCpu(f(a, 0), f(a, 1), f(a, 2), f(a, 3), rows, ch)));
        c.add(new Case(new KernelCall.RmsNormBackward(t("dout", rows, ch), t("x", rows, ch), t("w", ch), positive("rstd", rows),
                t("dx", rows, ch), t("dw", ch), rows, ch, false),
                a -> RmsNorm.backwardCpu(f(a, 0), f(a, 1), f(a, 2), f(a, 3), f(a, 4), f(a, 5), rows, ch, false)));
        c.add(new Case(new KernelCall.GeluForward(t("x", 33), t("out", 33), 33), a -> Gelu.forwardCpu(f(a, 0), f(a, 1), 33)));
        c.add(new Case(new KernelCall.GeluBackward(t("x", 33), t("dout", 33), t("dx", 33), 33),
                a -> Gelu.backwardCpu(f(a, 0), f(a, 1), f(a, 2), 33)));
        c.add(new Case(new KernelCall.SwiGluForward(t("x", rows, 2 * ch), t("out", rows, ch), rows, ch),
                a -> SwiGlu.forwardCpu(f(a, 0), f(a, 1), rows, ch)));
        c.add(new Case(new KernelCall.SwiGluBackward(t("x", rows, 2 * ch), t("dout", rows, ch), t("dx", rows, 2 * ch), rows, ch),
                a -> SwiGlu.backwardCpu(f(a, 0), f(a, 1), f(a, 2), rows, ch)));

        int batch = 2;
        int seq = 3;
        int nq = 3;
        int nkv = 1;
        int d = 8;
        int stride = (nq + 2 * nkv) * d;
        float[][] tables = Rope.tables(seq + 2, d, 10000);
        c.add(new Case(new KernelCall.RopeRotate(t("qkv", batch * seq, stride), of("cos", tables[0]), of("sin", tables[1]),
                batch * seq, seq, 2, nq + nkv, d, stride, -1f),
                a -> Rope.rotateCpu(f(a, 0), f(a, 1), f(a, 2), batch * seq, seq, 2, nq + nkv, d, stride, -1f)));
        c.add(new Case(new KernelCall.AttentionForward(t("qkv", batch * seq, stride), t("out", batch * seq, nq * d),
                t("lse", batch, nq, seq), batch, seq, nq, nkv, d),
                a -> Attention.forwardCpu(f(a, 0), f(a, 1), f(a, 2), batch, seq, nq, nkv, d)));
        c.add(new Case(new KernelCall.AttentionBackward(t("dout", batch * seq, nq * d), t("qkv", batch * seq, stride),
                t("out", batch * seq, nq * d), positive("lse", batch, nq, seq), t("delta", batch, nq, seq),
                t("dqkv", batch * seq, stride), batch, seq, nq, nkv, d),
                a -> Attention.backwardCpu(f(a, 0), f(a, 1), f(a, 2), f(a, 3), f(a, 4), f(a, 5), batch, seq, nq, nkv, d)));

        int v = 19;
        IntTensor targets = ints("targets", v, rows);
        targets.data[1] = -1;
        c.add(new Case(new KernelCall.CrossEntropyForward(t("logits", rows, v), targets, t("losses", rows), rows, v),
                a -> CrossEntropy.forwardCpu(f(a, 0), n(a, 1), f(a, 2), rows, v)));
        c.add(new Case(new KernelCall.CrossEntropyForwardBackward(t("logits", rows, v), targets, t("losses", rows),
                t("dlogits", rows, v), scalars(1), rows, v),
                a -> CrossEntropy.forwardBackwardCpu(f(a, 0), n(a, 1), f(a, 2), f(a, 3), f(a, 4), rows, v)));
        Tensor inPlace = t("logits", rows, v);
        c.add(new Case(new KernelCall.CrossEntropyForwardBackward(inPlace, targets, t("losses", rows), inPlace, scalars(1),
                rows, v),
                a -> CrossEntropy.forwardBackwardCpu(f(a, 0), n(a, 1), f(a, 2), f(a, 3), f(a, 4), rows, v)));

        int vocab = 6;
        int erows = batch * seq;
        c.add(new Case(new KernelCall.EmbeddingForward(ints("tokens", vocab, erows), t("wte", vocab, ch), t("out", erows, ch),
                erows, ch), a -> Embedding.forwardCpu(n(a, 0), f(a, 1), f(a, 2), erows, ch)));
        c.add(new Case(new KernelCall.PositionsAdd(t("wpe", seq + 4, ch), t("out", erows, ch), erows, seq, 4, ch),
                a -> Embedding.addPositionsCpu(f(a, 0), f(a, 1), erows, seq, 4, ch)));
        c.add(new Case(new KernelCall.EmbeddingBackward(ints("tokens", vocab, erows), t("dout", erows, ch),
                t("dwte", vocab, ch), erows, ch), a -> Embedding.backwardCpu(n(a, 0), f(a, 1), f(a, 2), erows, ch)));
        c.add(new Case(new KernelCall.PositionsBackward(t("dout", erows, ch), t("dwpe", seq, ch), erows, seq, ch),
                a -> Embedding.positionsBackwardCpu(f(a, 0), f(a, 1), erows, seq, ch)));

        c.add(new Case(new KernelCall.ResidualAdd(t("x", 37), t("y", 37), 37), a -> Residual.addCpu(f(a, 0), f(a, 1), 37)));
        c.add(new Case(new KernelCall.ResidualSum(t("src", 37), t("y", 37), t("sum", 37), 37), a -> {
            System.arraycopy(f(a, 0), 0, f(a, 2), 0, 37);
            Residual.addCpu(f(a, 2), f(a, 1), 37);
        }));
        c.add(new Case(new KernelCall.ResidualLayerNorm(t("src", 3, 13), t("y", 3, 13), t("sum", 3, 13), t("w", 13), t("b", 13),
                t("out", 3, 13), t("mean", 3), t("rstd", 3), 3, 13), a -> {
            System.arraycopy(f(a, 0), 0, f(a, 2), 0, 39);
            Residual.addCpu(f(a, 2), f(a, 1), 39);
            LayerNorm.forwardCpu(f(a, 2), f(a, 3), f(a, 4), f(a, 5), f(a, 6), f(a, 7), 3, 13);
        }));
        c.add(new Case(new KernelCall.ResidualRmsNorm(t("src", 3, 13), t("y", 3, 13), t("sum", 3, 13), t("w", 13),
                t("out", 3, 13), t("rstd", 3), 3, 13), a -> {
            System.arraycopy(f(a, 0), 0, f(a, 2), 0, 39);
            Residual.addCpu(f(a, 2), f(a, 1), 39);
            RmsNorm.forwardCpu(f(a, 2), f(a, 3), f(a, 4), f(a, 5), 3, 13);
        }));
        c.add(new Case(new KernelCall.Zero(t("x", 37)), a -> Fill.zeroCpu(f(a, 0), 37)));
        c.add(new Case(new KernelCall.ZeroFour(t("a", 37), t("b", 1), t("c", 64), t("d", 5)), a -> {
            Fill.zeroCpu(f(a, 0), 37);
            Fill.zeroCpu(f(a, 1), 1);
            Fill.zeroCpu(f(a, 2), 64);
            Fill.zeroCpu(f(a, 3), 5);
        }));
        c.add(new Case(new KernelCall.Copy(t("src", 37), t("dst", 37), 29), a -> Fill.copyCpu(f(a, 0), f(a, 1), 29)));
        int slot = StepScalars.GUIDE_SWITCHES + 1;
        c.add(new Case(new KernelCall.BlendForward(t("guide", 37), t("structured", 37), scalars(1), slot, 37),
                a -> Blend.forwardCpu(f(a, 0), f(a, 1), f(a, 2), slot, 37)));
        c.add(new Case(new KernelCall.BlendBackward(t("dout", 37), t("dguide", 37), scalars(1), slot, 37),
                a -> Blend.backwardCpu(f(a, 0), f(a, 1), f(a, 2), slot, 37)));
        c.add(new Case(new KernelCall.BlendSplit(t("dout", 37), t("dstructured", 37), t("dguide", 37), scalars(1), slot, 37),
                a -> {
                    Fill.copyCpu(f(a, 0), f(a, 1), 37);
                    Blend.backwardCpu(f(a, 1), f(a, 2), f(a, 3), slot, 37);
                }));
        c.add(new Case(new KernelCall.GuidedMatmulForward(t("x", m, k), t("guide", nn, k), t("g", m, nn), t("y", m, nn),
                scalars(1), slot, m, nn, k), a -> {
                    Matmul.forwardCpu(f(a, 0), f(a, 1), null, f(a, 2), m, nn, k, false);
                    Blend.forwardCpu(f(a, 2), f(a, 3), f(a, 4), slot, m * nn);
                }));
        c.add(new Case(new KernelCall.MatmulGeluForward(t("a", m, k), t("b", nn, k), t("bias", nn), t("c", m, nn),
                t("out", m, nn), m, nn, k), a -> {
                    Matmul.forwardCpu(f(a, 0), f(a, 1), f(a, 2), f(a, 3), m, nn, k, false);
                    Gelu.forwardCpu(f(a, 3), f(a, 4), m * nn);
                }));
        Tensor guided = t("guided", m, nn);
        c.add(new Case(new KernelCall.WhenGuided(scalars(1), slot,
                new KernelCall.MatmulForward(t("a", m, k), t("b", nn, k), null, guided, m, nn, k, false)),
                a -> Matmul.forwardCpu(f(a, 1), f(a, 2), null, f(a, 3), m, nn, k, false)));
        c.add(new Case(new KernelCall.AdamWUpdate(t("p", 41), t("g", 41), t("m", 41), positive("v", 41), scalars(1),
                0.9f, 0.95f, 1e-6f, 0.01f),
                a -> AdamW.updateCpu(f(a, 0), f(a, 1), f(a, 2), f(a, 3), f(a, 4), 41, 0.9f, 0.95f, 1e-6f, 0.01f)));
        c.add(new Case(KernelCall.AdamWUpdateGroup.of(List.of(
                        new Tensor[] {t("p1", 41), t("g1", 41), t("m1", 41), positive("v1", 41)},
                        new Tensor[] {t("p2", 7), t("g2", 7), t("m2", 7), positive("v2", 7)}),
                scalars(1), of("hyper", new float[] {0.9f, 0.95f, 1e-6f, 0.01f})), a -> {
                    AdamW.updateCpu(f(a, 0), f(a, 1), f(a, 2), f(a, 3), f(a, 8), 41, 0.9f, 0.95f, 1e-6f, 0.01f);
                    AdamW.updateCpu(f(a, 4), f(a, 5), f(a, 6), f(a, 7), f(a, 8), 7, 0.9f, 0.95f, 1e-6f, 0.01f);
                }));
        // Weights: 20 elements with decay, 25 without; biases: 9 with none.
        c.add(new Case(new KernelCall.AdamWFlat(t("pW", 45), t("gW", 45), t("mW", 45), positive("vW", 45), t("pB", 9),
                t("gB", 9), t("mB", 9), positive("vB", 9), scalars(1), of("hyper", new float[] {0.9f, 0.95f, 1e-6f, 0.01f}),
                45, 9, 20, 0), a -> {
                    adamWRange(a, 0, 0, 20, 0.01f);
                    adamWRange(a, 0, 20, 45, 0f);
                    adamWRange(a, 4, 0, 9, 0f);
                }));
        IntTensor slotOf = new IntTensor("slotOf", 3);
        slotOf.data[0] = 4;
        slotOf.data[1] = 1;
        slotOf.data[2] = 2;
        c.add(new Case(new KernelCall.GradNormFlat(t("gW", 2 * GradNorm.CHUNK), t("gB", GradNorm.CHUNK + 5), t("partials", 6),
                slotOf, 2, 1), a -> {
                    float[] partials = f(a, 2);
                    float[] two = new float[2];
                    GradNorm.partialSums(f(a, 0), two, 0, 2 * GradNorm.CHUNK);
                    partials[4] = two[0];
                    partials[1] = two[1];
                    GradNorm.partialSums(f(a, 1), partials, 2, GradNorm.CHUNK);
                }));
        c.add(new Case(new KernelCall.GradNormPartials(t("g", GradNorm.CHUNK + 3), t("partials", 5), 2),
                a -> GradNorm.partialSumsCpu(f(a, 0), f(a, 1), 2, GradNorm.CHUNK + 3)));
        c.add(new Case(KernelCall.GradNormPartialsGroup.of(List.of(t("a", GradNorm.CHUNK + 3), t("b", 1),
                t("c", 2 * GradNorm.CHUNK), t("d", 9)), t("partials", 9), 2), a -> {
                    GradNorm.partialSumsCpu(f(a, 0), f(a, 4), 2, GradNorm.CHUNK + 3);
                    GradNorm.partialSumsCpu(f(a, 1), f(a, 4), 4, 1);
                    GradNorm.partialSumsCpu(f(a, 2), f(a, 4), 5, 2 * GradNorm.CHUNK);
                    GradNorm.partialSumsCpu(f(a, 3), f(a, 4), 7, 9);
                }));
        c.add(new Case(new KernelCall.GradNormFinish(positive("partials", 5), scalars(1), 4, 0.5f),
                a -> GradNorm.finishCpu(f(a, 0), f(a, 1), 4, 0.5f)));

        // Decoding: the position comes from a one-element buffer.
        IntTensor pos = new IntTensor("pos", 1);
        pos.data[0] = 2;
        int maxLen = 6;
        int n1 = 2;
        c.add(new Case(new KernelCall.RopeRotateAt(t("qkv", batch * n1, stride), of("cos", tables[0]), of("sin", tables[1]), pos,
                batch * n1, n1, nq + nkv, d, stride),
                a -> Rope.rotateCpu(f(a, 0), f(a, 1), f(a, 2), batch * n1, n1, 2, nq + nkv, d, stride, 1f)));
        c.add(new Case(new KernelCall.PositionsAddAt(t("wpe", seq + 4, ch), t("out", erows, ch), pos, erows, seq, ch),
                a -> Embedding.addPositionsCpu(f(a, 0), f(a, 1), erows, seq, 2, ch)));
        c.add(new Case(new KernelCall.LastRows(t("src", batch * n1, ch), t("dst", batch, ch), batch, n1, ch),
                a -> Fill.lastRowsCpu(f(a, 0), f(a, 1), batch, n1, ch)));
        c.add(new Case(new KernelCall.KvAppend(t("qkv", batch * n1, stride), t("k", batch, maxLen, nkv * d),
                t("v", batch, maxLen, nkv * d), pos, batch, n1, maxLen, nq, nkv, d),
                a -> KvCache.appendCpu(f(a, 0), f(a, 1), f(a, 2), n(a, 3), batch, n1, maxLen, nq, nkv, d)));
        c.add(new Case(new KernelCall.KvAttention(t("qkv", batch * n1, stride), t("k", batch, maxLen, nkv * d),
                t("v", batch, maxLen, nkv * d), t("out", batch * n1, nq * d), t("scores", batch * n1, nq, maxLen), pos,
                batch, n1, maxLen, nq, nkv, d),
                a -> KvCache.attentionCpu(f(a, 0), f(a, 1), f(a, 2), f(a, 3), f(a, 4), n(a, 5), batch, n1, maxLen, nq, nkv, d)));
        c.add(new Case(new KernelCall.Bf16KvAppend(t("qkv", batch * n1, stride), bf16("k", batch, maxLen, nkv * d),
                bf16("v", batch, maxLen, nkv * d), pos, batch, n1, maxLen, nq, nkv, d),
                a -> KvCache.appendBf16Cpu(f(a, 0), s(a, 1), s(a, 2), n(a, 3), batch, n1, maxLen, nq, nkv, d)));
        c.add(new Case(new KernelCall.Bf16KvAttention(t("qkv", batch * n1, stride), bf16("k", batch, maxLen, nkv * d),
                bf16("v", batch, maxLen, nkv * d), t("out", batch * n1, nq * d), t("scores", batch * n1, nq, maxLen), pos,
                batch, n1, maxLen, nq, nkv, d),
                a -> KvCache.attentionBf16Cpu(f(a, 0), s(a, 1), s(a, 2), f(a, 3), f(a, 4), n(a, 5), batch, n1, maxLen, nq, nkv, d)));
        return c.stream().map(Arguments::of);
    }

    /** The tensors a call holds (WhenGuided's switch tensor first, then its inner call's), in component order. */
    static List<Object> tensors(Object call) {
        List<Object> out = new ArrayList<>();
        for (RecordComponent rc : call.getClass().getRecordComponents()) {
            Object value;
            try {
                value = rc.getAccessor().invoke(call);
            } catch (ReflectiveOperationException e) {
                throw new AssertionError(e);
            }
            if (value instanceof Tensor || value instanceof IntTensor || value instanceof ShortTensor) out.add(value);
            if (value instanceof KernelCall inner) out.addAll(tensors(inner));
        }
        return out;
    }

    static Object data(Object tensor) {
        if (tensor instanceof ShortTensor b) return b.data;
        return tensor instanceof Tensor x ? x.data : ((IntTensor) tensor).data;
    }

    static Object copy(Object array) {
        if (array instanceof short[] b) return b.clone();
        return array instanceof float[] x ? x.clone() : ((int[]) array).clone();
    }

    static boolean same(Object a, Object b) {
        if (a instanceof float[] x) {
            float[] y = (float[]) b;
            if (x.length != y.length) return false;
            for (int i = 0; i < x.length; i++) {
                if (Float.floatToRawIntBits(x[i]) != Float.floatToRawIntBits(y[i])) return false;
            }
            return true;
        }
        if (a instanceof short[] x) return Arrays.equals(x, (short[]) b);
        return Arrays.equals((int[]) a, (int[]) b);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void recordRunsItsCpuBodyWithItsArguments(Case c) {
        List<Object> tensors = tensors(c.call());
        // Copies keep the call's aliasing: a tensor named twice is one copy.
        Map<Object, Object> copies = new IdentityHashMap<>();
        Object[] direct = new Object[tensors.size()];
        Object[] before = new Object[tensors.size()];
        for (int i = 0; i < tensors.size(); i++) {
            direct[i] = copies.computeIfAbsent(tensors.get(i), x -> copy(data(x)));
            before[i] = copy(data(tensors.get(i)));
        }
        c.direct().accept(direct);
        c.call().runCpu();
        boolean changed = false;
        for (int i = 0; i < tensors.size(); i++) {
            Object got = data(tensors.get(i));
            if (!same(direct[i], got)) {
                fail(c + ": tensor " + tensors.get(i) + " (component " + i + ") differs from the direct CPU-body call");
            }
            changed |= !same(before[i], got);
        }
        assertTrue(changed, c + " wrote nothing");
    }

    /** A guided-only call is skipped while the layer's guide switch is 0, and runs when it is 1. */
    @Test
    void whenGuidedSkipsItsCallWhileTheSwitchIsOff() {
        int slot = StepScalars.GUIDE_SWITCHES + 1;
        Tensor out = t("guide_out", 37);
        Tensor x = t("x", 37);
        float[] before = out.data.clone();
        Tensor scalars = scalars(0);
        KernelCall call = new KernelCall.WhenGuided(scalars, slot, new KernelCall.GeluForward(x, out, 37));
        call.runCpu();
        assertTrue(same(before, out.data), "WhenGuided ran its call with the switch off");

        scalars.data[slot] = 1;
        call.runCpu();
        float[] expected = new float[37];
        Gelu.forwardCpu(x.data, expected, 37);
        assertTrue(same(expected, out.data), "WhenGuided did not run its call with the switch on");
    }

    /** Every kind of call has a case above, so a new record cannot go untested. */
    @Test
    void everyRecordKindIsCovered() {
        TreeSet<String> kinds = new TreeSet<>();
        for (Class<?> k : KernelCall.class.getPermittedSubclasses()) kinds.add(k.getSimpleName());
        TreeSet<String> covered = new TreeSet<>();
        cases().forEach(a -> covered.add(a.get()[0].toString()));
        assertEquals(kinds, covered);
    }
}
