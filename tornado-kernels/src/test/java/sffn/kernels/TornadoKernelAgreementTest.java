package sffn.kernels;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import sffn.kernels.backend.Backends;
import sffn.kernels.plan.KernelCall;
import sffn.kernels.plan.KernelCall.AdamWFlat;
import sffn.kernels.plan.KernelCall.AdamWUpdate;
import sffn.kernels.plan.KernelCall.AdamWUpdateGroup;
import sffn.kernels.plan.KernelCall.AttentionBackward;
import sffn.kernels.plan.KernelCall.AttentionForward;
import sffn.kernels.plan.KernelCall.BiasAdd;
import sffn.kernels.plan.KernelCall.BiasBackward;
import sffn.kernels.plan.KernelCall.BlendBackward;
import sffn.kernels.plan.KernelCall.BlendForward;
import sffn.kernels.plan.KernelCall.BlendSplit;
import sffn.kernels.plan.KernelCall.GuidedMatmulForward;
import sffn.kernels.plan.KernelCall.MatmulGeluForward;
import sffn.kernels.plan.KernelCall.BlockDiagBackwardInput;
import sffn.kernels.plan.KernelCall.BlockDiagBackwardWeight;
import sffn.kernels.plan.KernelCall.BlockDiagForward;
import sffn.kernels.plan.KernelCall.Copy;
import sffn.kernels.plan.KernelCall.CrossEntropyForward;
import sffn.kernels.plan.KernelCall.CrossEntropyForwardBackward;
import sffn.kernels.plan.KernelCall.EmbeddingBackward;
import sffn.kernels.plan.KernelCall.EmbeddingForward;
import sffn.kernels.plan.KernelCall.GeluBackward;
import sffn.kernels.plan.KernelCall.GeluForward;
import sffn.kernels.plan.KernelCall.GradNormFinish;
import sffn.kernels.plan.KernelCall.GradNormFlat;
import sffn.kernels.plan.KernelCall.GradNormPartials;
import sffn.kernels.plan.KernelCall.GradNormPartialsGroup;
import sffn.kernels.plan.KernelCall.KvAppend;
import sffn.kernels.plan.KernelCall.Bf16KvAppend;
import sffn.kernels.plan.KernelCall.Bf16KvAttention;
import sffn.kernels.plan.KernelCall.KvAttention;
import sffn.kernels.plan.KernelCall.LastRows;
import sffn.kernels.plan.KernelCall.LayerNormBackward;
import sffn.kernels.plan.KernelCall.LayerNormForward;
import sffn.kernels.plan.KernelCall.MatmulBackwardInput;
import sffn.kernels.plan.KernelCall.MatmulBackwardWeight;
import sffn.kernels.plan.KernelCall.MatmulForward;
import sffn.kernels.plan.KernelCall.PositionsAdd;
import sffn.kernels.plan.KernelCall.PositionsAddAt;
import sffn.kernels.plan.KernelCall.PositionsBackward;
import sffn.kernels.plan.KernelCall.ResidualAdd;
import sffn.kernels.plan.KernelCall.ResidualLayerNorm;
import sffn.kernels.plan.KernelCall.ResidualRmsNorm;
import sffn.kernels.plan.KernelCall.ResidualSum;
import sffn.kernels.plan.KernelCall.RmsNormBackward;
import sffn.kernels.plan.KernelCall.RmsNormForward;
import sffn.kernels.plan.KernelCall.RopeRotate;
import sffn.kernels.plan.KernelCall.RopeRotateAt;
import sffn.kernels.plan.KernelCall.ShuffleRows;
import sffn.kernels.plan.KernelCall.SwiGluBackward;
import sffn.kernels.plan.KernelCall.SwiGluForward;
import sffn.kernels.plan.KernelCall.WhenGuided;
import sffn.kernels.plan.KernelCall.Zero;
import sffn.kernels.plan.KernelCall.ZeroFour;
import sffn.kernels.plan.Plan;
import sffn.kernels.tornado.MatmulVariant;
import sffn.kernels.tornado.TornadoBackend;

/**
 * Every kind of kernel call, run through the TornadoVM backend as a one-call plan on awkward sizes
 * (not multiples of the work-group shapes or of 16), against its CPU body: the loop-parallel
 * portable bodies, and separately the KernelContext variants (which cannot run as plain Java, so
 * this is where they are checked). Outputs start as NaN unless the call accumulates, so an
 * element the device fails to write fails the comparison.
 *
 * <p>Bound: both bodies err from the exact result by at most the kernel tests' tolerance times
 * the magnitude of what was summed, so they differ by at most twice that; here it is applied to
 * the max norm, {@code ||device - cpu||_inf <= 2 tol ||cpu||_inf}. Copies and other exact
 * operations must agree bit for bit.
 */
class TornadoKernelAgreementTest {
    /** The kernel tests' tolerances. */
    static final double MATMUL = MatmulTest.TOL;
    static final double BLOCKDIAG = BlockDiagMatmulTest.TOL;
    static final double LAYERNORM = LayerNormTest.TOL;
    static final double RMSNORM = RmsNormTest.TOL;
    static final double XENT = CrossEntropyTest.TOL;
    static final double ATTENTION = AttentionTest.TOL;
    static final double KV = KvCacheTest.TOL;
    static final double GELU = GeluTest.TOL;
    static final double SWIGLU = SwiGluTest.TOL;
    static final double ROPE = RopeTest.TOL;
    static final double BIAS_ADD = BiasTest.ADD_TOL;
    static final double BIAS_SUM = BiasTest.SUM_TOL;
    static final double EMBED_ADD = EmbeddingTest.ADD_TOL;
    static final double EMBED_SUM = EmbeddingTest.SUM_TOL;
    static final double RESIDUAL = ResidualAndFillTest.ADD_TOL;
    static final double BLEND = BlendTest.TOL;
    static final double ADAMW = AdamWTest.TOL;
    static final double GRADNORM_SUM = GradNormTest.SUM_TOL;
    static final double GRADNORM_CLIP = GradNormTest.CLIP_TOL;
    /** Copies, gathers and the shuffle move values: both bodies must agree bit for bit. */
    static final double EXACT = 0;

    // Awkward sizes: rows = batch * seq = 2 * 19, hidden 67 (< the 128-wide row group) and 301 (> it).
    static final int B = 2;
    static final int T = 19;
    static final int R = B * T;
    static final int C = 67;
    static final int WIDE = 301;
    static final int N = 53;
    static final int K = 71;
    static final int V = 131;
    static final int NQ = 6;
    static final int NKV = 2;
    static final int D = 10;
    static final int QKV = (NQ + 2 * NKV) * D;

    @BeforeEach
    void tornado() {
        String why = Backends.tornadoUnavailableReason();
        Assumptions.assumeTrue(why == null, () -> why + " (TornadoVM tests run with scripts/test-tornado)");
    }

    static String device() {
        return System.getProperty("sffn.tornado.device");
    }

    /** Tensors of one side (CPU or device) of a case, drawn from per-name seeds so both sides start equal. */
    static final class World {
        final Map<String, Object> tensors = new LinkedHashMap<>();

        Tensor randn(String name, int... shape) {
            return uniform(name, -2, 2, shape);
        }

        Tensor uniform(String name, double lo, double hi, int... shape) {
            Tensor t = new Tensor(name, shape);
            SplittableRandom r = new SplittableRandom(name.hashCode() * 31L + Arrays.hashCode(shape));
            for (int i = 0; i < t.size(); i++) t.data[i] = (float) (lo + (hi - lo) * r.nextDouble());
            tensors.put(name, t);
            return t;
        }

        Tensor poisoned(String name, int... shape) {
            Tensor t = new Tensor(name, shape);
            t.fill(Float.NaN);
            tensors.put(name, t);
            return t;
        }

        /** Random when the call accumulates into it (so the addend is checked), NaN otherwise. */
        Tensor out(String name, boolean accumulate, int... shape) {
            return accumulate ? randn(name, shape) : poisoned(name, shape);
        }

        IntTensor ints(String name, int bound, int... shape) {
            IntTensor t = new IntTensor(name, shape);
            SplittableRandom r = new SplittableRandom(name.hashCode());
            for (int i = 0; i < t.size(); i++) t.data[i] = r.nextInt(bound);
            tensors.put(name, t);
            return t;
        }

        Tensor scalars(boolean switchOn) {
            Tensor s = new Tensor("scalars", StepScalars.size(2));
            s.data[StepScalars.LR] = 3e-3f;
            s.data[StepScalars.BIAS_CORRECTION1] = 1f - 0.9f * 0.9f * 0.9f;
            s.data[StepScalars.BIAS_CORRECTION2] = 1f - (float) Math.pow(0.999, 3);
            s.data[StepScalars.CLIP_SCALE] = 0.7f;
            s.data[StepScalars.GUIDE_ALPHA] = 0.35f;
            s.data[StepScalars.LOSS_SCALE] = 1f / R;
            s.data[StepScalars.GUIDE_SWITCHES] = switchOn ? 1f : 0f;
            s.data[StepScalars.GUIDE_SWITCHES + 1] = 1f;
            tensors.put("scalars", s);
            return s;
        }

        /** bfloat16 values rounded from {@link #randn}'s draws for the same name and shape. */
        ShortTensor bf16(String name, int... shape) {
            Tensor f = uniform(name, -2, 2, shape);
            ShortTensor t = new ShortTensor(name, shape);
            Bf16.compress(f.data, t.data);
            tensors.put(name, t);
            return t;
        }

        /** A tensor's values as floats (bfloat16 widened exactly). */
        float[] values(String name) {
            Object t = tensors.get(name);
            if (t instanceof ShortTensor b) {
                float[] f = new float[b.size()];
                Bf16.widen(b.data, f);
                return f;
            }
            return ((Tensor) t).data;
        }
    }

    record Case(String op, String shape, double tol, Function<World, KernelCall> call, List<String> outputs) {
    }

    static List<Case> cases() {
        List<Case> cs = new ArrayList<>();
        for (boolean acc : new boolean[] {false, true}) {
            String a = acc ? " acc" : "";
            cs.add(new Case("matmul forward", R + "x" + K + " . " + N + "x" + K + "^T" + a, MATMUL,
                    w -> new MatmulForward(w.randn("a", R, K), w.randn("b", N, K), null, w.out("c", acc, R, N), R, N, K, acc),
                    List.of("c")));
            cs.add(new Case("matmul backward input", R + "x" + N + " . " + N + "x" + K + a, MATMUL,
                    w -> new MatmulBackwardInput(w.randn("dc", R, N), w.randn("b", N, K), w.out("da", acc, R, K), R, N, K, acc),
                    List.of("da")));
            cs.add(new Case("matmul backward weight", N + "x" + R + " . " + R + "x" + K + a, MATMUL,
                    w -> new MatmulBackwardWeight(w.randn("dc", R, N), w.randn("a", R, K), w.out("db", acc, N, K), R, N, K, acc),
                    List.of("db")));
            cs.add(new Case("blockdiag forward", "rows " + R + " nb 3 q 13 p 11" + a, BLOCKDIAG,
                    w -> new BlockDiagForward(w.randn("x", R, 33), w.randn("w", 3, 13, 11), w.out("y", acc, R, 39), R, 3, 13, 11, acc),
                    List.of("y")));
            cs.add(new Case("blockdiag backward input", "rows " + R + " nb 3 q 13 p 11" + a, BLOCKDIAG,
                    w -> new BlockDiagBackwardInput(w.randn("dy", R, 39), w.randn("w", 3, 13, 11), w.out("dx", acc, R, 33), R, 3, 13, 11, acc),
                    List.of("dx")));
            cs.add(new Case("blockdiag backward weight", "rows " + R + " nb 3 q 13 p 11" + a, BLOCKDIAG,
                    w -> new BlockDiagBackwardWeight(w.randn("dy", R, 39), w.randn("x", R, 33), w.out("dw", acc, 3, 13, 11), R, 3, 13, 11, acc),
                    List.of("dw")));
            // Compact weights (decoding): the portable bodies widen bf16 and convert int8 per element;
            // rows of 71 and 37 inputs end int8 groups inside a row.
            for (WeightFormat f : List.of(WeightFormat.BF16, WeightFormat.INT8)) {
                cs.add(new Case(f.label() + " matmul forward", R + "x" + K + " . " + N + "x" + K + "^T" + a, MATMUL,
                        w -> CompactWeight.compress(w.randn("w" + f.label(), N, K), f).matmul(w.randn("a", R, K),
                                w.out("c", acc, R, N), R, N, K, acc), List.of("c")));
                cs.add(new Case(f.label() + " blockdiag forward", "rows " + R + " nb 3 q 13 p 37" + a, BLOCKDIAG,
                        w -> CompactWeight.compress(w.randn("w" + f.label(), 3, 13, 37), f).blockDiag(w.randn("x", R, 3 * 37),
                                w.out("y", acc, R, 39), R, 3, 13, 37, acc), List.of("y")));
            }
            cs.add(new Case("bias backward", R + "x" + N + a, BIAS_SUM,
                    w -> new BiasBackward(w.randn("dy", R, N), w.out("db", acc, N), R, N, acc), List.of("db")));
        }
        cs.add(new Case("matmul forward + bias", R + "x" + K + " . " + N + "x" + K + "^T", MATMUL,
                w -> new MatmulForward(w.randn("a", R, K), w.randn("b", N, K), w.randn("bias", N), w.poisoned("c", R, N), R, N, K, false),
                List.of("c")));
        cs.add(new Case("bias add", R + "x" + N, BIAS_ADD, w -> new BiasAdd(w.randn("y", R, N), w.randn("b", N), R, N), List.of("y")));
        cs.add(new Case("shuffle rows", R + " x (13, 3)", EXACT,
                w -> new ShuffleRows(w.randn("in", R, 39), w.poisoned("out", R, 39), R, 13, 3), List.of("out")));
        for (int c : new int[] {C, WIDE}) {
            cs.add(new Case("layernorm forward", R + "x" + c, LAYERNORM,
                    w -> new LayerNormForward(w.randn("x", R, c), w.randn("w", c), w.randn("b", c), w.poisoned("out", R, c),
                            w.poisoned("mean", R), w.poisoned("rstd", R), R, c),
                    List.of("out", "mean", "rstd")));
            cs.add(new Case("layernorm backward", R + "x" + c + " acc input", LAYERNORM,
                    w -> new LayerNormBackward(w.randn("dout", R, c), w.randn("x", R, c), w.randn("w", c),
                            w.uniform("mean", -0.1, 0.1, R), w.uniform("rstd", 0.5, 1.5, R), w.randn("dx", R, c),
                            w.randn("dw", c), w.randn("db", c), R, c, true),
                    List.of("dx", "dw", "db")));
            cs.add(new Case("rmsnorm forward", R + "x" + c, RMSNORM,
                    w -> new RmsNormForward(w.randn("x", R, c), w.randn("w", c), w.poisoned("out", R, c), w.poisoned("rstd", R), R, c),
                    List.of("out", "rstd")));
            cs.add(new Case("rmsnorm backward", R + "x" + c, RMSNORM,
                    w -> new RmsNormBackward(w.randn("dout", R, c), w.randn("x", R, c), w.randn("w", c),
                            w.uniform("rstd", 0.5, 1.5, R), w.poisoned("dx", R, c), w.randn("dw", c), R, c, false),
                    List.of("dx", "dw")));
        }
        cs.add(new Case("gelu forward", "n " + R * N, GELU, w -> new GeluForward(w.randn("x", R, N), w.poisoned("out", R, N), R * N),
                List.of("out")));
        cs.add(new Case("gelu backward", "n " + R * N, GELU,
                w -> new GeluBackward(w.randn("x", R, N), w.randn("dout", R, N), w.poisoned("dx", R, N), R * N), List.of("dx")));
        cs.add(new Case("swiglu forward", R + " x f 37", SWIGLU,
                w -> new SwiGluForward(w.randn("x", R, 74), w.poisoned("out", R, 37), R, 37), List.of("out")));
        cs.add(new Case("swiglu backward", R + " x f 37", SWIGLU,
                w -> new SwiGluBackward(w.randn("x", R, 74), w.randn("dout", R, 37), w.poisoned("dx", R, 74), R, 37), List.of("dx")));
        for (float sign : new float[] {1f, -1f}) {
            cs.add(new Case("rope " + (sign > 0 ? "forward" : "backward"), R + " rows, " + (NQ + NKV) + " heads of " + D, ROPE,
                    w -> {
                        float[][] tab = Rope.tables(40, D, 10000);
                        Tensor cos = w.randn("cos", 40, D / 2);
                        Tensor sin = w.randn("sin", 40, D / 2);
                        System.arraycopy(tab[0], 0, cos.data, 0, tab[0].length);
                        System.arraycopy(tab[1], 0, sin.data, 0, tab[1].length);
                        return new RopeRotate(w.randn("qkv", R, QKV), cos, sin, R, T, 3, NQ + NKV, D, QKV, sign);
                    }, List.of("qkv")));
        }
        cs.add(new Case("attention forward", "B " + B + " T " + T + " nq " + NQ + " nkv " + NKV + " d " + D, ATTENTION,
                w -> new AttentionForward(w.randn("qkv", R, QKV), w.poisoned("out", R, NQ * D), w.poisoned("lse", B, NQ, T), B, T, NQ, NKV, D),
                List.of("out", "lse")));
        // The local-memory kernels' edges: several query tiles (32) and key blocks (64, 32), ragged;
        // head dims up to its 64, GQA 2:1 and 3:1.
        for (int[] shape : new int[][] {{2, 150, 4, 2, 64}, {1, 97, 3, 1, 48}, {2, 33, 2, 2, 16}}) {
            int b = shape[0], t = shape[1], nq = shape[2], nkv = shape[3], d = shape[4];
            int qkv = (nq + 2 * nkv) * d;
            cs.add(new Case("attention forward", "B " + b + " T " + t + " nq " + nq + " nkv " + nkv + " d " + d, ATTENTION,
                    w -> new AttentionForward(w.randn("qkv", b * t, qkv), w.poisoned("out", b * t, nq * d), w.poisoned("lse", b, nq, t),
                            b, t, nq, nkv, d),
                    List.of("out", "lse")));
            cs.add(new Case("attention backward", "B " + b + " T " + t + " nq " + nq + " nkv " + nkv + " d " + d, ATTENTION,
                    w -> {
                        Tensor x = w.randn("qkv", b * t, qkv);
                        Tensor out = w.poisoned("out", b * t, nq * d);
                        Tensor lse = w.poisoned("lse", b, nq, t);
                        new AttentionForward(x, out, lse, b, t, nq, nkv, d).runCpu();
                        return new AttentionBackward(w.randn("dout", b * t, nq * d), x, out, lse, w.poisoned("delta", b, nq, t),
                                w.poisoned("dqkv", b * t, qkv), b, t, nq, nkv, d);
                    }, List.of("delta", "dqkv")));
        }
        cs.add(new Case("attention backward", "B " + B + " T " + T + " nq " + NQ + " nkv " + NKV + " d " + D, ATTENTION,
                w -> {
                    Tensor qkv = w.randn("qkv", R, QKV);
                    Tensor out = w.poisoned("out", R, NQ * D);
                    Tensor lse = w.poisoned("lse", B, NQ, T);
                    new AttentionForward(qkv, out, lse, B, T, NQ, NKV, D).runCpu();
                    return new AttentionBackward(w.randn("dout", R, NQ * D), qkv, out, lse, w.poisoned("delta", B, NQ, T),
                            w.poisoned("dqkv", R, QKV), B, T, NQ, NKV, D);
                }, List.of("delta", "dqkv")));
        cs.add(new Case("cross-entropy forward", R + " x vocab " + V, XENT,
                w -> new CrossEntropyForward(w.randn("logits", R, V), targets(w), w.poisoned("losses", R), R, V), List.of("losses")));
        cs.add(new Case("cross-entropy forward+backward", R + " x vocab " + V, XENT,
                w -> new CrossEntropyForwardBackward(w.randn("logits", R, V), targets(w), w.poisoned("losses", R),
                        w.poisoned("dlogits", R, V), w.scalars(true), R, V),
                List.of("losses", "dlogits")));
        cs.add(new Case("cross-entropy forward+backward in place", R + " x vocab " + V, XENT,
                w -> {
                    Tensor logits = w.randn("logits", R, V);
                    return new CrossEntropyForwardBackward(logits, targets(w), w.poisoned("losses", R), logits, w.scalars(true), R, V);
                }, List.of("losses", "logits")));
        cs.add(new Case("embedding forward", R + " tokens x " + C, EXACT,
                w -> new EmbeddingForward(w.ints("tokens", V, R), w.randn("wte", V, C), w.poisoned("out", R, C), R, C), List.of("out")));
        cs.add(new Case("positions add", R + " x " + C + " offset 0", EMBED_ADD,
                w -> new PositionsAdd(w.randn("wpe", 40, C), w.randn("out", R, C), R, T, 0, C), List.of("out")));
        cs.add(new Case("embedding backward", R + " tokens (repeats) x " + C, EMBED_SUM,
                w -> new EmbeddingBackward(w.ints("tokens", 7, R), w.randn("dout", R, C), w.randn("dwte", V, C), R, C), List.of("dwte")));
        cs.add(new Case("positions backward", R + " x " + C, EMBED_SUM,
                w -> new PositionsBackward(w.randn("dout", R, C), w.randn("dwpe", 40, C), R, T, C), List.of("dwpe")));
        cs.add(new Case("residual add", "n " + R * C, RESIDUAL, w -> new ResidualAdd(w.randn("x", R, C), w.randn("y", R, C), R * C), List.of("x")));
        cs.add(new Case("residual sum", "n " + R * C, RESIDUAL,
                w -> new ResidualSum(w.randn("src", R, C), w.randn("y", R, C), w.poisoned("sum", R, C), R * C), List.of("sum")));
        for (int c : new int[] {C, WIDE}) {
            cs.add(new Case("residual + layernorm", R + "x" + c, LAYERNORM,
                    w -> new ResidualLayerNorm(w.randn("src", R, c), w.randn("y", R, c), w.poisoned("sum", R, c), w.randn("w", c),
                            w.randn("b", c), w.poisoned("out", R, c), w.poisoned("mean", R), w.poisoned("rstd", R), R, c),
                    List.of("sum", "out", "mean", "rstd")));
            cs.add(new Case("residual + rmsnorm", R + "x" + c, RMSNORM,
                    w -> new ResidualRmsNorm(w.randn("src", R, c), w.randn("y", R, c), w.poisoned("sum", R, c), w.randn("w", c),
                            w.poisoned("out", R, c), w.poisoned("rstd", R), R, c),
                    List.of("sum", "out", "rstd")));
        }
        cs.add(new Case("zero", "n " + R * C, EXACT, w -> new Zero(w.randn("x", R, C)), List.of("x")));
        cs.add(new Case("zero four", "n 37, 1, " + R * C + ", 4099", EXACT,
                w -> new ZeroFour(w.randn("a", 37), w.randn("b", 1), w.randn("c", R, C), w.randn("d", 4099)),
                List.of("a", "b", "c", "d")));
        cs.add(new Case("copy", "n " + R * C, EXACT, w -> new Copy(w.randn("src", R, C), w.poisoned("dst", R, C), R * C), List.of("dst")));
        for (boolean on : new boolean[] {true, false}) {
            String sw = on ? " switch on" : " switch off";
            cs.add(new Case("blend forward", "n " + R * C + sw, BLEND,
                    w -> new BlendForward(w.randn("guide", R, C), w.randn("s", R, C), w.scalars(on), StepScalars.GUIDE_SWITCHES, R * C),
                    List.of("s")));
            cs.add(new Case("blend backward", "n " + R * C + sw, BLEND,
                    w -> new BlendBackward(w.randn("dout", R, C), w.poisoned("dguide", R, C), w.scalars(on), StepScalars.GUIDE_SWITCHES, R * C),
                    List.of("dout", "dguide")));
            cs.add(new Case("blend split", "n " + R * C + sw, BLEND,
                    w -> new BlendSplit(w.randn("dout", R, C), w.poisoned("ds", R, C), w.poisoned("dguide", R, C), w.scalars(on),
                            StepScalars.GUIDE_SWITCHES, R * C),
                    List.of("dout", "ds", "dguide")));
        }
        cs.add(new Case("when guided (matmul)", R + "x" + K + " . " + N + "x" + K + "^T switch on", MATMUL,
                w -> new WhenGuided(w.scalars(true), StepScalars.GUIDE_SWITCHES,
                        new MatmulForward(w.randn("a", R, K), w.randn("b", N, K), null, w.poisoned("c", R, N), R, N, K, false)),
                List.of("c")));
        // Decoding: 2 sequences of 3 new tokens at position 5 of a cache of 13.
        int nb = 2;
        int nn = 3;
        int maxLen = 13;
        cs.add(new Case("rope at position", nb * nn + " rows from pos 5", ROPE,
                w -> {
                    float[][] tab = Rope.tables(40, D, 10000);
                    Tensor cos = w.randn("cos", 40, D / 2);
                    Tensor sin = w.randn("sin", 40, D / 2);
                    System.arraycopy(tab[0], 0, cos.data, 0, tab[0].length);
                    System.arraycopy(tab[1], 0, sin.data, 0, tab[1].length);
                    return new RopeRotateAt(w.randn("qkv", nb * nn, QKV), cos, sin, position(w, 5), nb * nn, nn, NQ + NKV, D, QKV);
                }, List.of("qkv")));
        cs.add(new Case("positions add at position", nb * nn + " x " + C + " from pos 5", EMBED_ADD,
                w -> new PositionsAddAt(w.randn("wpe", 40, C), w.randn("out", nb * nn, C), position(w, 5), nb * nn, nn, C),
                List.of("out")));
        cs.add(new Case("last rows", nb + " x " + nn + " x " + C, EXACT,
                w -> new LastRows(w.randn("src", nb * nn, C), w.poisoned("dst", nb, C), nb, nn, C), List.of("dst")));
        cs.add(new Case("kv append", nb + " x " + nn + " at 5, cache " + maxLen, EXACT,
                w -> new KvAppend(w.randn("qkv", nb * nn, QKV), w.randn("kcache", nb, maxLen, NKV * D),
                        w.randn("vcache", nb, maxLen, NKV * D), position(w, 5), nb, nn, maxLen, NQ, NKV, D),
                List.of("kcache", "vcache")));
        cs.add(new Case("kv attention", nb + " x " + nn + " at 5, cache " + maxLen, KV,
                w -> new KvAttention(w.randn("qkv", nb * nn, QKV), w.randn("kcache", nb, maxLen, NKV * D),
                        w.randn("vcache", nb, maxLen, NKV * D), w.poisoned("out", nb * nn, NQ * D),
                        w.randn("scores", nb * nn, NQ, maxLen), position(w, 5), nb, nn, maxLen, NQ, NKV, D),
                List.of("out")));
        // bfloat16 caches: the device's arithmetic rounding gives the CPU's bits, in the caches and in qkv.
        cs.add(new Case("bf16 kv append", nb + " x " + nn + " at 5, cache " + maxLen, EXACT,
                w -> new Bf16KvAppend(w.randn("qkv", nb * nn, QKV), w.bf16("kcache", nb, maxLen, NKV * D),
                        w.bf16("vcache", nb, maxLen, NKV * D), position(w, 5), nb, nn, maxLen, NQ, NKV, D),
                List.of("kcache", "vcache", "qkv")));
        cs.add(new Case("bf16 kv attention", nb + " x " + nn + " at 5, cache " + maxLen, KV,
                w -> new Bf16KvAttention(w.randn("qkv", nb * nn, QKV), w.bf16("kcache", nb, maxLen, NKV * D),
                        w.bf16("vcache", nb, maxLen, NKV * D), w.poisoned("out", nb * nn, NQ * D),
                        w.randn("scores", nb * nn, NQ, maxLen), position(w, 5), nb, nn, maxLen, NQ, NKV, D),
                List.of("out")));
        // Decoding at long contexts: more cached keys than a work-group has items, head dims
        // over 64 (two passes of columns) and under it, GQA; float32 and bfloat16 caches.
        for (int[] shape : new int[][] {{2, 1, 301, 280, 4, 2, 80}, {1, 3, 200, 150, 3, 1, 48}}) {
            int kb = shape[0], kn = shape[1], len = shape[2], at = shape[3], kq = shape[4], kkv = shape[5], kd = shape[6];
            int width = (kq + 2 * kkv) * kd;
            String sh = kb + " x " + kn + " at " + at + ", cache " + len + " nq " + kq + " nkv " + kkv + " d " + kd;
            cs.add(new Case("kv attention", sh, KV,
                    w -> new KvAttention(w.randn("qkv", kb * kn, width), w.randn("kcache", kb, len, kkv * kd),
                            w.randn("vcache", kb, len, kkv * kd), w.poisoned("out", kb * kn, kq * kd),
                            w.randn("scores", kb * kn, kq, len), position(w, at), kb, kn, len, kq, kkv, kd),
                    List.of("out")));
            cs.add(new Case("bf16 kv attention", sh, KV,
                    w -> new Bf16KvAttention(w.randn("qkv", kb * kn, width), w.bf16("kcache", kb, len, kkv * kd),
                            w.bf16("vcache", kb, len, kkv * kd), w.poisoned("out", kb * kn, kq * kd),
                            w.randn("scores", kb * kn, kq, len), position(w, at), kb, kn, len, kq, kkv, kd),
                    List.of("out")));
        }
        cs.add(new Case("adamw", "n " + 5003 + " wd 0.1", ADAMW,
                w -> new AdamWUpdate(w.randn("p", 5003), w.randn("g", 5003), w.randn("m", 5003), w.uniform("v", 0, 1, 5003),
                        w.scalars(true), 0.9f, 0.999f, 1e-8f, 0.1f),
                List.of("p", "g", "m", "v")));
        // A group of three (every argument of the launch a parameter's) and one of two (four
        // arguments one-element stand-ins, unread).
        for (int[] sizes : new int[][] {{5003, 17, 1}, {1, 4099}}) {
            List<String> outputs = new ArrayList<>();
            for (int j = 0; j < sizes.length; j++) for (String k : new String[] {"p", "g", "m", "v"}) outputs.add(k + j);
            cs.add(new Case("adamw group", "n " + Arrays.toString(sizes) + " wd 0.1", ADAMW,
                    w -> {
                        List<Tensor[]> params = new ArrayList<>();
                        for (int j = 0; j < sizes.length; j++) {
                            int n = sizes[j];
                            params.add(new Tensor[] {w.randn("p" + j, n), w.randn("g" + j, n), w.randn("m" + j, n),
                                    w.uniform("v" + j, 0, 1, n)});
                        }
                        Tensor hyper = w.randn("hyper", 4);
                        hyper.data[AdamW.BETA1] = 0.9f;
                        hyper.data[AdamW.BETA2] = 0.999f;
                        hyper.data[AdamW.EPS] = 1e-8f;
                        hyper.data[AdamW.WEIGHT_DECAY] = 0.1f;
                        return AdamWUpdateGroup.of(params, w.scalars(true), hyper);
                    }, outputs));
        }
        // Every parameter in one launch (the device's shared arrays): weights 2000 with decay and
        // 3003 without, biases 17 without.
        cs.add(new Case("adamw flat", "n 5003 + 17, decay 2000 + 0", ADAMW,
                w -> {
                    Tensor hyper = w.randn("hyper", 4);
                    hyper.data[AdamW.BETA1] = 0.9f;
                    hyper.data[AdamW.BETA2] = 0.999f;
                    hyper.data[AdamW.EPS] = 1e-8f;
                    hyper.data[AdamW.WEIGHT_DECAY] = 0.1f;
                    return new AdamWFlat(w.randn("pW", 5003), w.randn("gW", 5003), w.randn("mW", 5003), w.uniform("vW", 0, 1, 5003),
                            w.randn("pB", 17), w.randn("gB", 17), w.randn("mB", 17), w.uniform("vB", 0, 1, 17), w.scalars(true),
                            hyper, 5003, 17, 2000, 0);
                }, List.of("pW", "gW", "mW", "vW", "pB", "gB", "mB", "vB")));
        // Chunks of two shared gradient arrays into slots in another order (the plan's).
        cs.add(new Case("grad norm partials flat", "chunks 3 + 2", GRADNORM_SUM,
                w -> {
                    Tensor partials = w.poisoned("partials", 6);
                    partials.data[0] = 1.5f;
                    IntTensor slotOf = new IntTensor("slotOf", 5);
                    int[] order = {3, 1, 5, 2, 4};
                    System.arraycopy(order, 0, slotOf.data, 0, order.length);
                    return new GradNormFlat(w.randn("gW", 3 * GradNorm.CHUNK), w.randn("gB", 2 * GradNorm.CHUNK), partials, slotOf, 3,
                            2);
                }, List.of("partials")));
        // A group of eight (every argument of the launch a gradient) and one of three (five
        // arguments repeat the last gradient, unread).
        int[][] groups = {{GradNorm.CHUNK + 123, 1, 2 * GradNorm.CHUNK, 77, 5, GradNorm.CHUNK, 3, 4099}, {1, 4219, 77}};
        for (int[] sizes : groups) {
            int slots = 0;
            for (int size : sizes) slots += GradNorm.slots(size);
            int total = slots;
            cs.add(new Case("grad norm partials group", "n " + Arrays.toString(sizes), GRADNORM_SUM,
                    w -> {
                        // Slots 2.. are written (NaN until then); the two before must be left alone.
                        Tensor partials = w.poisoned("partials", 2 + total);
                        partials.data[0] = 1.5f;
                        partials.data[1] = -2.5f;
                        List<Tensor> grads = new ArrayList<>();
                        for (int i = 0; i < sizes.length; i++) grads.add(w.randn("g" + i, sizes[i]));
                        return GradNormPartialsGroup.of(grads, partials, 2);
                    }, List.of("partials")));
        }
        int n = 3 * GradNorm.CHUNK + 123;
        cs.add(new Case("grad norm partials", "n " + n, GRADNORM_SUM,
                w -> {
                    // Slots 2.. are written (NaN until then); the two before must be left alone.
                    Tensor partials = w.poisoned("partials", 2 + GradNorm.slots(n));
                    partials.data[0] = 1.5f;
                    partials.data[1] = -2.5f;
                    return new GradNormPartials(w.randn("g", n), partials, 2);
                }, List.of("partials")));
        cs.add(new Case("grad norm finish", "9 partials", GRADNORM_CLIP,
                w -> new GradNormFinish(w.uniform("partials", 0, 30, 9), w.scalars(true), 9, 1f), List.of("scalars")));
        return cs;
    }

    private static IntTensor position(World w, int p) {
        IntTensor t = w.ints("pos", 1, 1);
        t.data[0] = p;
        return t;
    }

    private static IntTensor targets(World w) {
        IntTensor t = w.ints("targets", V, R);
        t.data[5] = -1; // an ignored target
        return t;
    }

    record Result(Case c, String output, double err, double bound) {
    }

    @Test
    void portableBodiesAgreeWithCpuBodies() {
        check(false);
    }

    @Test
    void kernelContextVariantsAgreeWithCpuBodies() {
        check(true, null, cases());
    }

    /**
     * The matmul family on every register-tiled shape, on the 16 x 16 kernels and, on a device of
     * TornadoVM's CUDA backend, as cuBLAS library tasks, at the sizes of
     * {@link #cases} and at {@link #matmulCases}' larger ones (several tiles, ragged in every
     * dimension, a K that is no multiple of the K slice).
     */
    @Test
    void everyMatmulVariantAgreesWithCpuBodies() {
        List<Case> family = new ArrayList<>(matmulCases());
        for (Case c : cases()) {
            if (c.op().contains("matmul") && !c.op().startsWith("bf16") && !c.op().startsWith("int8")
                    || c.op().startsWith("blockdiag")) {
                family.add(c);
            }
        }
        List<MatmulVariant> variants = new ArrayList<>();
        variants.add(MatmulVariant.TILE16);
        for (TiledGemm.Tiles t : TiledGemm.Tiles.values()) variants.add(MatmulVariant.register(t));
        // cuBLAS in FP32 where the device offers it (TF32 is not FP32: its products keep 10 bits).
        String noCublas;
        try (TornadoBackend b = new TornadoBackend(device(), true, MatmulVariant.LOOP)) {
            noCublas = b.cublasUnavailableReason();
        }
        if (noCublas == null) {
            variants.add(MatmulVariant.CUBLAS);
        } else {
            System.out.println("cuBLAS variant not run: " + noCublas);
        }
        for (MatmulVariant v : variants) check(true, v, family);
    }

    /**
     * The register-tiled GEMM's fused epilogues (what {@code Fusion} makes of a forward and its GELU,
     * and of a guide's product and its blend) on every tile shape, larger than one 128 x 128 tile
     * and ragged everywhere; the other matmul bodies never get them.
     */
    @Test
    void everyEpilogueFusionAgreesWithCpuBodiesOnEveryTileShape() {
        List<Case> cs = epilogueCases();
        for (TiledGemm.Tiles t : TiledGemm.Tiles.values()) check(true, MatmulVariant.register(t), cs);
    }

    /** The epilogue fusions' cases: larger than one 128 x 128 tile, ragged everywhere. */
    static List<Case> epilogueCases() {
        int m = 150;
        int n = 133;
        int k = 70;
        List<Case> cs = new ArrayList<>();
        for (boolean bias : new boolean[] {false, true}) {
            cs.add(new Case("matmul + gelu", m + "x" + k + " . " + n + "x" + k + "^T" + (bias ? " + bias" : ""), Math.max(MATMUL, GELU),
                    w -> new MatmulGeluForward(w.randn("a", m, k), w.randn("b", n, k), bias ? w.randn("bias", n) : null,
                            w.poisoned("c", m, n), w.poisoned("act", m, n), m, n, k),
                    List.of("c", "act")));
        }
        for (boolean on : new boolean[] {true, false}) {
            cs.add(new Case("guided matmul", m + "x" + k + " . " + n + "x" + k + "^T" + (on ? " switch on" : " switch off"),
                    Math.max(MATMUL, BLEND),
                    w -> new GuidedMatmulForward(w.randn("x", m, k), w.randn("guide", n, k), w.poisoned(on ? "g" : "g0", m, n),
                            w.randn("y", m, n), w.scalars(on), StepScalars.GUIDE_SWITCHES, m, n, k),
                    // Off, the device still writes the product the CPU skips: compare y only.
                    on ? List.of("g", "y") : List.of("y")));
        }
        return cs;
    }

    /** A {@code -Dsffn.test.cases} prefix that names no case would run nothing and pass: refuse it. */
    @Test
    void everyCaseFilterNamesACase() {
        List<Case> all = new ArrayList<>(cases());
        all.addAll(matmulCases());
        all.addAll(epilogueCases());
        for (String prefix : caseFilter()) {
            if (all.stream().noneMatch(c -> c.op().startsWith(prefix))) {
                fail("-Dsffn.test.cases: no case's op starts with '" + prefix + "'; the ops are "
                        + all.stream().map(Case::op).distinct().toList());
            }
        }
    }

    /** The prefixes of {@code -Dsffn.test.cases} (a comma list; empty: every case). */
    private static List<String> caseFilter() {
        return Arrays.stream(System.getProperty("sffn.test.cases", "").split(",")).map(String::trim).toList();
    }

    /** Matmul-family cases larger than one 128 x 128 tile, ragged everywhere. */
    static List<Case> matmulCases() {
        int m = 150;
        int n = 133;
        int k = 70;
        List<Case> cs = new ArrayList<>();
        for (boolean acc : new boolean[] {false, true}) {
            String a = acc ? " acc" : "";
            cs.add(new Case("matmul forward", m + "x" + k + " . " + n + "x" + k + "^T" + a, MATMUL,
                    w -> new MatmulForward(w.randn("a", m, k), w.randn("b", n, k), null, w.out("c", acc, m, n), m, n, k, acc),
                    List.of("c")));
            cs.add(new Case("matmul backward input", m + "x" + n + " . " + n + "x" + k + a, MATMUL,
                    w -> new MatmulBackwardInput(w.randn("dc", m, n), w.randn("b", n, k), w.out("da", acc, m, k), m, n, k, acc),
                    List.of("da")));
            cs.add(new Case("matmul backward weight", n + "x" + m + " . " + m + "x" + k + a, MATMUL,
                    w -> new MatmulBackwardWeight(w.randn("dc", m, n), w.randn("a", m, k), w.out("db", acc, n, k), m, n, k, acc),
                    List.of("db")));
            // 2 blocks of 131 x 67 over 137 rows
            cs.add(new Case("blockdiag forward", "rows 137 nb 2 q 131 p 67" + a, BLOCKDIAG,
                    w -> new BlockDiagForward(w.randn("x", 137, 134), w.randn("w", 2, 131, 67), w.out("y", acc, 137, 262), 137, 2,
                            131, 67, acc), List.of("y")));
            cs.add(new Case("blockdiag backward input", "rows 137 nb 2 q 131 p 67" + a, BLOCKDIAG,
                    w -> new BlockDiagBackwardInput(w.randn("dy", 137, 262), w.randn("w", 2, 131, 67), w.out("dx", acc, 137, 134),
                            137, 2, 131, 67, acc), List.of("dx")));
            cs.add(new Case("blockdiag backward weight", "rows 137 nb 2 q 131 p 67" + a, BLOCKDIAG,
                    w -> new BlockDiagBackwardWeight(w.randn("dy", 137, 262), w.randn("x", 137, 134), w.out("dw", acc, 2, 131, 67),
                            137, 2, 131, 67, acc), List.of("dw")));
        }
        cs.add(new Case("matmul forward + bias", m + "x" + k + " . " + n + "x" + k + "^T", MATMUL,
                w -> new MatmulForward(w.randn("a", m, k), w.randn("b", n, k), w.randn("bias", n), w.randn("c", m, n), m, n, k, true),
                List.of("c")));
        return cs;
    }

    private void check(boolean tuned) {
        check(tuned, null, cases());
    }

    private void check(boolean tuned, MatmulVariant variant, List<Case> all) {
        // -Dsffn.test.cases=attention runs only the cases whose op starts so (the PoCL device is
        // slow); a comma list, those that start with any.
        List<String> only = caseFilter();
        List<Case> cases = all.stream().filter(c -> only.stream().anyMatch(c.op()::startsWith)).toList();
        if (cases.isEmpty()) return;
        List<World> cpu = new ArrayList<>();
        List<World> dev = new ArrayList<>();
        List<Plan> plans = new ArrayList<>();
        for (Case c : cases) {
            World wc = new World();
            World wd = new World();
            c.call().apply(wc).runCpu();
            KernelCall call = c.call().apply(wd);
            Plan p = new Plan(c.op() + " " + c.shape()).add(call);
            for (String o : c.outputs()) p.hostOutputs(wd.tensors.get(o));
            cpu.add(wc);
            dev.add(wd);
            plans.add(p);
        }
        List<Result> results = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        String label;
        try (TornadoBackend backend = new TornadoBackend(device(), tuned, variant)) {
            label = tuned ? "KernelContext variants where they exist, matmul " + backend.matmul().label() : "portable bodies";
            for (Plan p : plans) backend.prepare(p);
            for (int i = 0; i < cases.size(); i++) {
                Plan p = plans.get(i);
                if (Boolean.getBoolean("sffn.test.trace")) System.err.println("running " + p.name());
                backend.run(p);
                backend.toHost(p, p.hostOutputs().toArray());
            }
            System.out.println("device: " + backend.describe());
        }
        for (int i = 0; i < cases.size(); i++) {
            Case c = cases.get(i);
            for (String o : c.outputs()) {
                float[] want = cpu.get(i).values(o);
                float[] got = dev.get(i).values(o);
                double err = Check.relativeError(got, want);
                double bound = 2 * c.tol();
                results.add(new Result(c, o, err, bound));
                if (!(err <= bound)) {
                    failures.add(String.format(Locale.ROOT, "%s: %s [%s] %s: relative max error %.3g exceeds %.3g%s", label, c.op(), c.shape(), o,
                            err, bound, firstDifference(got, want)));
                }
            }
        }
        System.out.println(label + " vs CPU bodies:");
        System.out.printf(Locale.ROOT, "%-42s %-44s %-8s %-11s %s%n", "op", "shape", "output", "max err", "bound");
        for (Result r : results) {
            System.out.printf(Locale.ROOT, "%-42s %-44s %-8s %-11.3g %.3g%n", r.c().op(), r.c().shape(), r.output(), r.err(), r.bound());
        }
        if (!failures.isEmpty()) fail(String.join("\n", failures));
    }

    private static String firstDifference(float[] got, float[] want) {
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToIntBits(got[i]) != Float.floatToIntBits(want[i])) {
                return " (first difference at " + i + ": device " + got[i] + ", cpu " + want[i] + ")";
            }
        }
        return "";
    }

    @Test
    void aSectionOfManyTensorsRunsAsSeveralGraphs() {
        // 300 copies in one section: 600 arrays, far more than one TornadoVM graph can hold.
        int n = 300;
        Tensor[] src = new Tensor[n];
        Tensor[] dst = new Tensor[n];
        Plan p = new Plan("many tensors");
        for (int i = 0; i < n; i++) {
            src[i] = new Tensor("src" + i, 3 + i % 5);
            dst[i] = new Tensor("dst" + i, 3 + i % 5);
            for (int j = 0; j < src[i].size(); j++) src[i].data[j] = i + 0.25f * j;
            dst[i].fill(Float.NaN);
            p.add(new Copy(src[i], dst[i], src[i].size()));
        }
        p.hostOutputs((Object[]) dst);
        try (TornadoBackend backend = new TornadoBackend(device(), false)) {
            backend.prepare(p);
            backend.run(p);
            backend.toHost(p, (Object[]) dst);
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < src[i].size(); j++) {
                if (Float.floatToIntBits(dst[i].data[j]) != Float.floatToIntBits(src[i].data[j])) {
                    fail("dst" + i + "[" + j + "] is " + dst[i].data[j] + ", expected " + src[i].data[j]);
                }
            }
        }
    }

    @Test
    void aliasedArgumentsAreRefusedWithAName() {
        Tensor x = new Tensor("x", 8);
        Plan p = new Plan("aliased").add(new ResidualAdd(x, x, 8));
        try (TornadoBackend backend = new TornadoBackend(device(), false)) {
            backend.prepare(p);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> backend.run(p));
            assertTrue(e.getMessage().contains("ResidualAdd passes one tensor twice"), e.getMessage());
        }
    }
}
