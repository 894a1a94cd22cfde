package sffn.cli.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import sffn.kernels.Tensor;
import sffn.kernels.TiledGemm;
import sffn.kernels.backend.Backend;
import sffn.kernels.plan.KernelCall;
import sffn.kernels.tornado.MatmulVariant;
import sffn.kernels.tornado.TileChoice;
import sffn.kernels.tornado.TornadoBackend;

/**
 * {@code sffn bench kernels --backend tornado --tune}: times the register-tiled GEMM at every tile
 * shape on the device at hand (a training step's three products of one shape, one plan) and
 * records the fastest in {@link TileChoice}'s cache, where later runs on that device find it.
 * Loaded only under TornadoVM.
 */
final class TileTuner {
    private TileTuner() {
    }

    /**
     * @param backends a fresh backend on the chosen device each call (the variant comes from
     *                 {@value MatmulVariant#PROPERTY}, which this sets)
     * @return where the choice was written
     */
    static Path tune(boolean quick, Supplier<Backend> backends) throws IOException {
        // {M, N, K} of the forward: the "s" model's FFN at 1024 tokens; a quarter of it with --quick.
        int m = quick ? 512 : 1024;
        int n = quick ? 768 : 3072;
        int k = 768;
        double flops = 3 * 2.0 * m * n * k;
        SplittableRandom r = new SplittableRandom(7);
        Tensor a = KernelBench.tensor(r, "a", m, k);
        Tensor w = KernelBench.tensor(r, "w", n, k);
        Tensor c = new Tensor("c", m, n);
        Tensor dc = KernelBench.tensor(r, "dc", m, n);
        Tensor da = new Tensor("da", m, k);
        Tensor dw = new Tensor("dw", n, k);
        System.out.printf(Locale.ROOT, "tuning the register-tiled matmul on forward + backward products of %dx%dx%d%n", m, n, k);
        TiledGemm.Tiles best = null;
        double bestSeconds = Double.MAX_VALUE;
        String key = null;
        // The candidates, then the older bodies for reference (not candidates).
        java.util.List<String> variants = new java.util.ArrayList<>();
        for (TiledGemm.Tiles t : TiledGemm.Tiles.values()) variants.add("reg:" + t.name());
        variants.add("tile16");
        variants.add("loop");
        for (String v : variants) {
            System.setProperty(MatmulVariant.PROPERTY, v);
            try (Backend b = backends.get()) {
                key = ((TornadoBackend) b).tileCacheKey();
                double s = new KernelBench(quick, b, x -> { }).seconds(
                        new KernelCall.MatmulForward(a, w, null, c, m, n, k, false),
                        new KernelCall.MatmulBackwardInput(dc, w, da, m, n, k, false),
                        new KernelCall.MatmulBackwardWeight(dc, a, dw, m, n, k, false));
                MatmulVariant mv = ((TornadoBackend) b).matmul();
                System.out.printf(Locale.ROOT, "  %-18s %9.3f ms %9.2f GFLOP/s%s%n", mv.label(), s * 1e3, flops / s / 1e9,
                        mv.isRegister() ? "" : "  (reference)");
                if (mv.isRegister() && s < bestSeconds) {
                    bestSeconds = s;
                    best = mv.tiles();
                }
            }
        }
        System.clearProperty(MatmulVariant.PROPERTY);
        Path f = TileChoice.store(key, best);
        System.out.printf(Locale.ROOT, "fastest: %s (%s); recorded for %s in %s%n", best.name(), best.label(), key, f);
        return f;
    }

}
