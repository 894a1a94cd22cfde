package sffn.cli.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import sffn.kernels.CompactWeight;
import sffn.kernels.Int8Groups;
import sffn.kernels.IntTensor;
import sffn.kernels.Matmul;
import sffn.kernels.StepScalars;
import sffn.kernels.Tensor;
import sffn.kernels.WeightFormat;
import sffn.kernels.backend.Backend;
import sffn.kernels.plan.KernelCall;
import sffn.kernels.plan.Plan;

/**
 * GFLOP/s of the compute-heavy kernels on a backend beside OpenBLAS sgemm measured in the same
 * run. Each op runs as a one-call plan on the backend (on the CPU backend: its CPU body; on a
 * device: its compiled kernel, operands resident, nothing copied back). A GEMM-shaped op is compared with OpenBLAS on the same shape and layout, timed in
 * alternating rounds so that a noisy machine slows both alike; every other op is compared with
 * OpenBLAS at one representative shape (its best case, a large NT product), and says so.
 *
 * <p>FLOP models: matmul and block-diagonal 2 m n k; attention the causal half of its GEMMs
 * (forward 4 B nq d T(T+1)/2, backward twice that); layernorm and cross-entropy count the
 * arithmetic per element of their loops (an exp as one), so their figures are mostly a
 * measure of memory bandwidth.
 */
final class KernelBench {

    /** One measured op: sffn's GFLOP/s beside the yardstick's. */
    record Result(String op, String shape, double ms, double gflops, double yardstickGflops, String yardstick,
                  String note) {
        double ratio() {
            return gflops / yardstickGflops;
        }
    }

    /**
     * The matmul shapes (M x N x K of the forward): two of the "s" model's FFN, one decode step,
     * and the two thin products of a rank-64 LowRank fc1 on the "s" width (x V^T: 768 -> 64, then
     * h U^T: 64 -> 3072), whose three forms train LowRank models. {@code --quick} skips the thin ones.
     */
    static final int[][] MATMUL_SHAPES = {{4096, 3072, 768}, {4096, 768, 3072}, {16, 3072, 768},
            {4096, 64, 768}, {4096, 3072, 64}};

    private final boolean quick;
    private final Backend backend;
    /** The matmul family's body on a TornadoVM backend (e.g. {@code reg 64x64/4x4}), named in each note; null on the CPU. */
    private String variant;
    /** Whether the matmul group includes decoding's compact-weight products. */
    private boolean compactProducts = true;
    private final Consumer<Result> sink;
    /** Seconds of untimed warm-up per op (JIT compilation of its code paths). */
    private final double warmup;
    /** Timed rounds per op; the median is reported. */
    private final int rounds;
    /** A round repeats the op until it has run this long, so short ops are not timer-bound. */
    private final double roundSeconds;
    private double representative = Double.NaN;
    private String representativeShape = "no yardstick (matmul not measured)";
    /** sffn's own matmul forward at the representative shape, in GFLOP/s (what attention is compared with). */
    private double ourRepresentative = Double.NaN;
    private String ourRepresentativeShape = "";

    KernelBench(boolean quick, Backend backend, Consumer<Result> sink) {
        this.quick = quick;
        this.backend = backend;
        this.sink = sink;
        this.warmup = quick ? 0.25 : 0.5;
        this.rounds = quick ? 5 : 7;
        this.roundSeconds = quick ? 0.02 : 0.05;
    }

    /** Names the matmul family's variant in the notes; with {@code compact} false, the matmul group skips the compact-weight products. */
    KernelBench variant(String label, boolean compact) {
        this.variant = label;
        this.compactProducts = compact;
        return this;
    }

    /** Median seconds of one run of a plan of these calls (prepared, warmed up, then released). */
    double seconds(KernelCall... calls) {
        Plan p = new Plan("timed");
        for (KernelCall c : calls) p.add(c);
        backend.prepare(p);
        prepared.add(p);
        double s = time(() -> backend.run(p), 1)[0];
        releaseAll();
        return s;
    }

    /** The groups of ops, by the prefix of their names, in the order they run. */
    static final List<String> GROUPS = List.of("matmul", "blockdiag", "attention", "layernorm", "crossentropy");

    void run() {
        run(GROUPS);
    }

    /** Only the given groups (of {@link #GROUPS}); without matmul, the others have no yardstick (NaN). */
    void run(List<String> groups) {
        if (groups.contains("matmul") || groups.contains("blockdiag")) jitWarmup();
        if (groups.contains("matmul")) {
            matmuls();
            if (compactProducts) compactProducts();
        }
        if (groups.contains("blockdiag")) blockDiagonal();
        if (groups.contains("attention")) attention();
        if (groups.contains("layernorm")) layerNorm();
        if (groups.contains("crossentropy")) crossEntropy();
    }

    /** About a second of the GEMM paths before anything is timed: C2 needs that to compile them. */
    private void jitWarmup() {
        SplittableRandom r = new SplittableRandom(1);
        float[] a = random(r, 512 * 512);
        float[] b = random(r, 512 * 512);
        float[] c = new float[512 * 512];
        long until = System.nanoTime() + (long) ((quick ? 0.5 : 1.0) * 1e9);
        while (System.nanoTime() < until) {
            Matmul.forwardCpu(a, b, null, c, 512, 512, 512, false);
            Matmul.backwardInputCpu(c, b, a, 512, 512, 512, false);
            Matmul.backwardWeightCpu(c, a, b, 512, 512, 512, false);
            Matmul.forwardCpu(a, b, null, c, 16, 512, 512, false);
        }
    }

    /** A prepared one-call plan on the backend, as a Runnable. */
    private Runnable op(KernelCall call) {
        Plan p = new Plan(call.getClass().getSimpleName()).add(call);
        backend.prepare(p);
        prepared.add(p);
        return () -> backend.run(p);
    }

    private final List<Plan> prepared = new ArrayList<>();

    /** Releases the plans of one shape, so that a device holds only the buffers being measured. */
    private void releaseAll() {
        for (Plan p : prepared) backend.release(p);
        prepared.clear();
    }

    /** A tensor of uniform values in [-1, 1). */
    static Tensor tensor(SplittableRandom r, String name, int... shape) {
        Tensor t = new Tensor(name, shape);
        for (int i = 0; i < t.size(); i++) t.data[i] = (float) (r.nextDouble() * 2 - 1);
        return t;
    }

    // ---- matmul ------------------------------------------------------------------------------

    private void matmuls() {
        for (int[] s : MATMUL_SHAPES) {
            int m = s[0];
            int n = s[1];
            int k = s[2];
            boolean isRepresentative = m == 4096 && n == 3072 && k == 768;
            if (quick && Math.min(n, k) <= 64) continue;
            String shape = m + "x" + n + "x" + k;
            SplittableRandom r = new SplittableRandom(m + 31L * n + 961L * k);
            Tensor a = tensor(r, "a", m, k);
            Tensor w = tensor(r, "w", n, k);
            Tensor c = new Tensor("c", m, n);
            Tensor dc = tensor(r, "dc", m, n);
            Tensor da = new Tensor("da", m, k);
            Tensor dw = new Tensor("dw", n, k);
            double flops = 2.0 * m * n * k;
            // forward C = A W^T: NT; backwardInput dA = dC W: NN (M x K x N); backwardWeight dW = dC^T A: TN (N x K x M)
            try (OpenBlasSgemm ob = new OpenBlasSgemm(false, true, m, n, k, a.data, w.data)) {
                Result res = paired("matmul.forward", shape, flops, op(new KernelCall.MatmulForward(a, w, null, c, m, n, k, false)),
                        ob::run, "OpenBLAS sgemm NT " + shape);
                if (isRepresentative) {
                    representative = res.yardstickGflops();
                    representativeShape = "OpenBLAS sgemm NT " + shape + " (representative)";
                    ourRepresentative = res.gflops();
                    ourRepresentativeShape = shape;
                }
            }
            if (quick && !isRepresentative) {
                releaseAll();
                continue;
            }
            try (OpenBlasSgemm ob = new OpenBlasSgemm(false, false, m, k, n, dc.data, w.data)) {
                paired("matmul.backwardInput", shape, flops, op(new KernelCall.MatmulBackwardInput(dc, w, da, m, n, k, false)),
                        ob::run, "OpenBLAS sgemm NN " + m + "x" + k + "x" + n);
            }
            try (OpenBlasSgemm ob = new OpenBlasSgemm(true, false, n, k, m, dc.data, a.data)) {
                paired("matmul.backwardWeight", shape, flops, op(new KernelCall.MatmulBackwardWeight(dc, a, dw, m, n, k, false)),
                        ob::run, "OpenBLAS sgemm TN " + n + "x" + k + "x" + m);
            }
            releaseAll();
        }
    }

    // ---- decoding's products with compact weights -----------------------------------------

    /** Weight bytes each timed pass streams, so that the weights come from memory, not the caches. */
    private static final double STREAM_BYTES = 192e6;

    /**
     * The matvec (M = 1) and small-M (M = 8) products of decoding, with float32, bf16 and int8
     * weights, at Transformer-s's FFN shapes and (full run) LowRank-32%'s rank-192 factor: one plan multiplies by enough distinct copies of the weight to stream
     * {@link #STREAM_BYTES} from memory, as a decode step does. The yardstick is sffn's own
     * float32 product of the same shape; the note gives the weight bytes read per second.
     */
    private void compactProducts() {
        int[][] shapes = quick ? new int[][] {{1, 3072, 768}, {8, 3072, 768}}
                : new int[][] {{1, 3072, 768}, {8, 3072, 768}, {1, 768, 3072}, {8, 768, 3072},
                        {1, 3072, 192}, {8, 3072, 192}}; // the last two: LowRank-32%'s second factor (rank 192)
        for (int[] s : shapes) {
            int m = s[0];
            int n = s[1];
            int k = s[2];
            String shape = m + "x" + n + "x" + k;
            double flops = 2.0 * m * n * k;
            double fp32 = Double.NaN;
            for (WeightFormat f : WeightFormat.values()) {
                SplittableRandom r = new SplittableRandom(m + 31L * n + 961L * k + f.ordinal());
                Tensor a = tensor(r, "a", m, k);
                Tensor c = new Tensor("c", m, n);
                long bytes = f == WeightFormat.INT8 ? (long) n * k + 4L * n * Int8Groups.groups(k) : (long) f.bytes * n * k;
                int copies = (int) Math.max(1, Math.ceil(STREAM_BYTES / bytes));
                Plan p = new Plan(f.label() + " " + shape);
                for (int i = 0; i < copies; i++) {
                    Tensor w = tensor(r, "w" + i, n, k);
                    p.add(f == WeightFormat.FP32 ? new KernelCall.MatmulForward(a, w, null, c, m, n, k, false)
                            : CompactWeight.compress(w, f).matmul(a, c, m, n, k, false));
                }
                backend.prepare(p);
                prepared.add(p);
                double[] t = time(() -> backend.run(p), flops * copies);
                if (f == WeightFormat.FP32) fp32 = t[1];
                sink.accept(new Result("matmul." + f.label(), shape, t[0] * 1e3 / copies, t[1], fp32,
                        "sffn fp32 matmul, same shape", String.format(Locale.ROOT, "%.1f GB/s of weights (%d copies streamed)",
                        bytes * (double) copies / t[0] / 1e9, copies)));
                releaseAll();
            }
        }
    }

    // ---- block-diagonal ----------------------------------------------------------------------

    /**
     * BlockDense's first factor at width 768 with rank 768 (x [4096, 768], blocks [nb, 768/nb,
     * 768/nb]), the same as BlockShuffle's first factor at nb blocks. The yardstick is OpenBLAS
     * on the dense product of equal FLOPs and equal output, [4096, p] x [nb q, p]^T, and the note
     * gives sffn's own dense matmul of that shape, which a block-diagonal product should approach.
     */
    private void blockDiagonal() {
        int rows = 4096;
        for (int nb : new int[] {2, 4}) {
            int q = 768 / nb;
            int p = 768 / nb;
            blockDiagonal(rows, nb, q, p, !quick);
            releaseAll();
        }
        if (!quick) blockDiagonal(rows, 4, 768, 192, false); // BlockShuffle's second factor at ffn 3072
        releaseAll();
    }

    private void blockDiagonal(int rows, int nb, int q, int p, boolean backward) {
        String shape = rows + "x[" + nb + "x" + q + "x" + p + "]";
        SplittableRandom r = new SplittableRandom(nb * 7L + q);
        Tensor x = tensor(r, "x", rows, nb * p);
        Tensor w = tensor(r, "w", nb, q, p);
        Tensor y = new Tensor("y", rows, nb * q);
        Tensor dy = tensor(r, "dy", rows, nb * q);
        Tensor dx = new Tensor("dx", rows, nb * p);
        Tensor dw = new Tensor("dw", nb, q, p);
        double flops = 2.0 * rows * nb * q * p;
        // The equal-FLOP dense product: M = rows, N = nb q, K = p.
        int n = nb * q;
        Tensor wd = tensor(r, "wd", n, p);
        Tensor xd = tensor(r, "xd", rows, p);
        Tensor yd = new Tensor("yd", rows, n);
        String dense = rows + "x" + n + "x" + p;
        double denseGflops = time(op(new KernelCall.MatmulForward(xd, wd, null, yd, rows, n, p, false)), flops)[1];
        try (OpenBlasSgemm ob = new OpenBlasSgemm(false, true, rows, n, p, xd.data, wd.data)) {
            pairedWithNote("blockdiag.forward", shape, flops, op(new KernelCall.BlockDiagForward(x, w, y, rows, nb, q, p, false)),
                    ob::run, "OpenBLAS sgemm NT " + dense + " (equal FLOPs)", denseGflops, dense);
        }
        if (!backward) return;
        Tensor dyd = tensor(r, "dyd", rows, n);
        Tensor dxd = new Tensor("dxd", rows, p);
        denseGflops = time(op(new KernelCall.MatmulBackwardInput(dyd, wd, dxd, rows, n, p, false)), flops)[1];
        try (OpenBlasSgemm ob = new OpenBlasSgemm(false, false, rows, p, n, dyd.data, wd.data)) {
            pairedWithNote("blockdiag.backwardInput", shape, flops,
                    op(new KernelCall.BlockDiagBackwardInput(dy, w, dx, rows, nb, q, p, false)),
                    ob::run, "OpenBLAS sgemm NN " + rows + "x" + p + "x" + n + " (equal FLOPs)", denseGflops, dense);
        }
        Tensor dwd = new Tensor("dwd", n, p);
        denseGflops = time(op(new KernelCall.MatmulBackwardWeight(dyd, xd, dwd, rows, n, p, false)), flops)[1];
        try (OpenBlasSgemm ob = new OpenBlasSgemm(true, false, n, p, rows, dyd.data, xd.data)) {
            pairedWithNote("blockdiag.backwardWeight", shape, flops,
                    op(new KernelCall.BlockDiagBackwardWeight(dy, x, dw, rows, nb, q, p, false)),
                    ob::run, "OpenBLAS sgemm TN " + n + "x" + p + "x" + rows + " (equal FLOPs)", denseGflops, dense);
        }
    }

    // ---- attention, layernorm, cross-entropy --------------------------------------------------

    private void attention() {
        // {batch, seqLen, nq, nkv, d}
        int[][] shapes = quick ? new int[][] {{16, 256, 4, 4, 64}} : new int[][] {{16, 256, 4, 4, 64}, {4, 1024, 16, 4, 64}};
        for (int[] s : shapes) {
            int batch = s[0];
            int seqLen = s[1];
            int nq = s[2];
            int nkv = s[3];
            int d = s[4];
            String shape = "B" + batch + " T" + seqLen + " nq" + nq + " nkv" + nkv + " d" + d;
            SplittableRandom r = new SplittableRandom(seqLen);
            Tensor qkv = tensor(r, "qkv", batch * seqLen, (nq + 2 * nkv) * d);
            Tensor out = new Tensor("out", batch * seqLen, nq * d);
            Tensor dout = tensor(r, "dout", batch * seqLen, nq * d);
            Tensor lse = new Tensor("lse", batch, nq, seqLen);
            Tensor delta = new Tensor("delta", batch, nq, seqLen);
            Tensor dqkv = new Tensor("dqkv", batch * seqLen, (nq + 2 * nkv) * d);
            double causal = (double) seqLen * (seqLen + 1) / 2;
            double fwd = 4.0 * batch * nq * d * causal;
            Runnable forward = op(new KernelCall.AttentionForward(qkv, out, lse, batch, seqLen, nq, nkv, d));
            besideOurMatmul("attention.forward", shape, fwd, forward, "causal matmul FLOPs");
            forward.run(); // backward reads the output and log-sum-exp the forward saved
            besideOurMatmul("attention.backward", shape, 2 * fwd,
                    op(new KernelCall.AttentionBackward(dout, qkv, out, lse, delta, dqkv, batch, seqLen, nq, nkv, d)),
                    "causal matmul FLOPs");
            releaseAll();
        }
    }

    private void layerNorm() {
        int rows = 4096;
        int c = 768;
        String shape = rows + "x" + c;
        SplittableRandom r = new SplittableRandom(5);
        Tensor x = tensor(r, "x", rows, c);
        Tensor w = tensor(r, "w", c);
        Tensor b = tensor(r, "b", c);
        Tensor out = new Tensor("out", rows, c);
        Tensor mean = new Tensor("mean", rows);
        Tensor rstd = new Tensor("rstd", rows);
        Tensor dout = tensor(r, "dout", rows, c);
        Tensor dx = new Tensor("dx", rows, c);
        Tensor dw = new Tensor("dw", c);
        Tensor db = new Tensor("db", c);
        Runnable forward = op(new KernelCall.LayerNormForward(x, w, b, out, mean, rstd, rows, c));
        single("layernorm.forward", shape, 8.0 * rows * c, forward, "8 FLOPs/element");
        forward.run();
        single("layernorm.backward", shape, 17.0 * rows * c,
                op(new KernelCall.LayerNormBackward(dout, x, w, mean, rstd, dx, dw, db, rows, c, false)),
                "input and parameter gradients, 17 FLOPs/element");
        releaseAll();
    }

    private void crossEntropy() {
        int rows = quick ? 512 : 1024;
        int v = 32000;
        String shape = rows + "x" + v;
        SplittableRandom r = new SplittableRandom(6);
        Tensor logits = tensor(r, "logits", rows, v);
        IntTensor targets = new IntTensor("targets", rows);
        for (int i = 0; i < rows; i++) targets.data[i] = r.nextInt(v);
        Tensor losses = new Tensor("losses", rows);
        Tensor dlogits = new Tensor("dlogits", rows, v);
        Tensor scalars = new Tensor("scalars", StepScalars.size(0));
        scalars.data[StepScalars.LOSS_SCALE] = 1f / rows;
        single("crossentropy.forwardBackward", shape, 6.0 * rows * v,
                op(new KernelCall.CrossEntropyForwardBackward(logits, targets, losses, dlogits, scalars, rows, v)),
                "6 FLOPs/logit, exp as 1");
        releaseAll();
    }

    // ---- measurement -------------------------------------------------------------------------

    private Result paired(String op, String shape, double flops, Runnable ours, Runnable theirs, String yardstick) {
        return pairedWithNote(op, shape, flops, ours, theirs, yardstick, Double.NaN, null);
    }

    /**
     * Warms both up, then alternates blocks of timed rounds of theirs and ours; reports each
     * one's median. OpenBLAS's threads keep spinning for about 2^28 cycles after a call (its
     * THREAD_TIMEOUT), which would steal the cores from ours, so each block of OpenBLAS rounds
     * is followed by a pause before ours run. With a dense reference, the note gives ours over
     * sffn's dense GFLOP/s of equal FLOPs.
     */
    private Result pairedWithNote(String op, String shape, double flops, Runnable ours, Runnable theirs, String yardstick,
                                  double denseGflops, String denseShape) {
        warm(theirs);
        settle();
        warm(ours);
        double[] t1 = new double[rounds];
        double[] t2 = new double[rounds];
        int perBlock = (rounds + BLOCKS - 1) / BLOCKS;
        for (int i0 = 0; i0 < rounds; i0 += perBlock) {
            int i1 = Math.min(rounds, i0 + perBlock);
            for (int i = i0; i < i1; i++) t2[i] = round(theirs);
            settle();
            for (int i = i0; i < i1; i++) t1[i] = round(ours);
        }
        double s1 = median(t1);
        double s2 = median(t2);
        String note = (variant == null ? "" : variant + "; ") + (Double.isNaN(denseGflops) ? "same shape" : String.format(Locale.ROOT,
                "%.2f of sffn dense %s (%.1f)", flops / s1 / 1e9 / denseGflops, denseShape, denseGflops));
        Result res = new Result(op, shape, s1 * 1e3, flops / s1 / 1e9, flops / s2 / 1e9, yardstick, note);
        sink.accept(res);
        return res;
    }

    /** Blocks of alternation per paired measurement: each costs one {@link #settle()}. */
    private static final int BLOCKS = 3;

    /** Waits until OpenBLAS's spinning threads have gone to sleep (2^28 cycles is 0.13 s at 2 GHz). */
    private static void settle() {
        try {
            Thread.sleep(150);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void single(String op, String shape, double flops, Runnable ours, String note) {
        double[] t = time(ours, flops);
        sink.accept(new Result(op, shape, t[0] * 1e3, t[1], representative, representativeShape, note));
    }

    /**
     * {@link #single}, its note also giving the GFLOP/s as a fraction of sffn's own matmul forward
     * at the representative shape in this run (attention's target is set against that).
     */
    private void besideOurMatmul(String op, String shape, double flops, Runnable ours, String note) {
        double[] t = time(ours, flops);
        if (!Double.isNaN(ourRepresentative)) {
            note += String.format(Locale.ROOT, "; %.2f of sffn's matmul forward %s (%.1f GFLOP/s)",
                    t[1] / ourRepresentative, ourRepresentativeShape, ourRepresentative);
        }
        sink.accept(new Result(op, shape, t[0] * 1e3, t[1], representative, representativeShape, note));
    }

    /** {seconds, GFLOP/s} of the median round after warm-up. */
    private double[] time(Runnable ours, double flops) {
        warm(ours);
        double[] t = new double[rounds];
        for (int i = 0; i < rounds; i++) t[i] = round(ours);
        double s = median(t);
        return new double[] {s, flops / s / 1e9};
    }

    /**
     * Runs r for at least the warm-up time and 10 calls, then on (up to 4 s) until a call is
     * within 10% of the fastest so far: big kernels take C2 several seconds to compile on two
     * cores, and a median over half-compiled calls would measure the JIT, not the kernel.
     */
    private void warm(Runnable r) {
        long start = System.nanoTime();
        long until = start + (long) (warmup * 1e9);
        long limit = start + 4_000_000_000L;
        double best = Double.MAX_VALUE;
        int n = 0;
        while (true) {
            long t0 = System.nanoTime();
            r.run();
            long t1 = System.nanoTime();
            double t = t1 - t0;
            n++;
            boolean settled = t <= 1.1 * best;
            best = Math.min(best, t);
            if (t1 >= limit || (n >= 10 && t1 >= until && settled)) return;
        }
    }

    /** Seconds per run, over as many runs as fill one round. */
    private double round(Runnable r) {
        long start = System.nanoTime();
        long until = start + (long) (roundSeconds * 1e9);
        int n = 0;
        long now;
        do {
            r.run();
            n++;
            now = System.nanoTime();
        } while (now < until);
        return (now - start) / 1e9 / n;
    }

    private static double median(double[] x) {
        double[] s = x.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    private static float[] random(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
        return x;
    }
}
