package sffn.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import sffn.kernels.backend.Backend;
import sffn.kernels.backend.CpuBackend;
import sffn.nn.Gpt;
import sffn.nn.ModelStats;
import sffn.nn.config.MethodConfig;
import sffn.nn.config.ModelConfig;
import sffn.train.TrainConfig;
import sffn.train.TrainListener;
import sffn.train.Trainer;
import sffn.train.data.ShardLoader;
import sffn.train.data.Split;

/**
 * {@code train --dry-run}: the resolved run, its FLOPs and memory, then the weight initialisation
 * and a few steps timed for an estimate of the whole run. Writes nothing the user keeps (the steps
 * run with a temporary output folder, deleted after).
 */
final class DryRun {
    private DryRun() {
    }

    static int run(ModelConfig m, MethodConfig f, TrainConfig c, Path data, Backend backend, int timedSteps, PrintStream out)
            throws IOException {
        ModelStats s = ModelStats.of(m, f, c.seqLen());
        long tokens = c.tokensPerStep() * c.totalSteps();
        ShardLoader train = new ShardLoader(data, Split.TRAIN, c.batchSize(), c.seqLen(), m.vocabSize());
        out.println("model:    " + m);
        out.println("method:   " + f);
        out.println("training: " + c.toJson());
        out.printf(Locale.ROOT, "data:     %s: %,d training tokens (%.2f epochs for this run), tokenizer %s%n", data,
                train.tokenCount(), tokens / (double) Math.max(1, train.tokenCount()),
                train.tokenizerInfo().map(t -> t.name() + " (" + t.vocabSize() + " ids)").orElse("not recorded"));
        out.printf(Locale.ROOT, "size:     %,d parameters, %,d in the FFNs (%.0f%% of a dense FFN's)%n", s.modelParams(),
                s.ffnParams(), 100.0 * s.ffnParams() / Math.max(1, s.denseFfnParams()));
        double guideFlops = c.guidedSteps() * (double) c.tokensPerStep() * 3 * ModelStats.guideFlopsPerToken(m, f);
        out.printf(Locale.ROOT, "FLOPs:    %.3g per token (training), %.3g for %,d steps of %,d tokens%s%n",
                s.trainingFlops(1), s.trainingFlops(tokens), c.totalSteps(), c.tokensPerStep(),
                c.guidedSteps() > 0 ? String.format(Locale.ROOT, ", plus at most %.3g for the guides", guideFlops) : "");
        // float32 weights, gradients and two AdamW moments; a guide adds a dense [out, in] matrix the same way
        double stateBytes = 16.0 * s.modelParams() + (c.guidedSteps() > 0 ? 16.0 * guideParams(m, f) : 0);
        out.printf(Locale.ROOT, "memory:   %.2f GB of weights, gradients and AdamW moments%s, plus activations"
                        + " (measured below); checkpoints %.2f GB each%n", stateBytes / 1e9,
                c.guidedSteps() > 0 ? " (guides included)" : "", 12.0 * s.modelParams() / 1e9);

        Gpt model = InitProgressLine.init(new Gpt(m, f), c.seed(), out);
        if (timedSteps <= 0) {
            return 0;
        }
        Path tmp = Files.createTempDirectory("sffn-dry-run");
        try {
            Trainer[] holder = new Trainer[1];
            double[] seconds = new double[1];
            int[] counted = new int[1];
            // --profile on the CPU counts the steps timed here, not the first, which runs while the
            // JIT still interprets the kernels (in a 3-step profile of Transformer-s, step 1 made
            // LayerNormForward's 13.7 ms per call); TornadoVM's profiler times the device alone.
            CpuBackend profiled = backend instanceof CpuBackend cpu && cpu.profiling() && timedSteps > 1 ? cpu : null;
            if (profiled != null) profiled.recording(false);
            TrainListener timing = new TrainListener() {
                @Override
                public void step(Step st) {
                    if (st.step() == 1 && profiled != null) profiled.recording(true);
                    if (st.step() > 1) { // the first step warms the JIT up
                        seconds[0] += c.tokensPerStep() / st.tokensPerSecond();
                        counted[0]++;
                    }
                    out.printf(Locale.ROOT, "timed step %d: %.2f s%n", st.step(), c.tokensPerStep() / st.tokensPerSecond());
                    if (st.step() >= timedSteps) {
                        // nor the checkpoint's probe forward that follows the last step
                        if (profiled != null) profiled.recording(false);
                        holder[0].requestStop(false);
                    }
                }
            };
            // a plan shorter than the timed steps is timed as if it were long enough
            TrainConfig timed = c.totalSteps() >= timedSteps ? c : c.with(b -> {
                b.steps = timedSteps;
                return b;
            });
            Trainer t = Trainer.start(model, timed, backend, data, tmp, timing);
            holder[0] = t;
            t.runUntil(timedSteps);
            Runtime rt = Runtime.getRuntime();
            System.gc();
            out.printf(Locale.ROOT, "memory:   %.2f GB of Java heap in use after the steps (of %.2f GB allowed)%n",
                    (rt.totalMemory() - rt.freeMemory()) / 1e9, rt.maxMemory() / 1e9);
            if (counted[0] > 0) {
                double perStep = seconds[0] / counted[0];
                out.printf(Locale.ROOT, "time:     %.2f s per step, %,.0f tokens/s: about %s for the %,d steps"
                                + " (evaluations and checkpoints not included)%n", perStep, c.tokensPerStep() / perStep,
                        duration(perStep * c.totalSteps()), c.totalSteps());
                if (profiled != null) {
                    out.println("profile:  the steps after the first (below, when the backend closes)");
                }
            } else {
                out.println("time:     time 2 or more steps (--dry-run-steps) for an estimate; the first warms up");
            }
        } finally {
            deleteTree(tmp);
        }
        return 0;
    }

    private static long guideParams(ModelConfig m, MethodConfig f) {
        int structured = !f.structured() ? 0 : f.firstLayerDense() ? m.numLayers() - 1 : m.numLayers();
        return (long) structured * ((long) m.hiddenDim() * m.fc1OutDim() + (long) m.ffnDim() * m.hiddenDim());
    }

    static String duration(double s) {
        if (s < 120) {
            return String.format(Locale.ROOT, "%.0f s", s);
        }
        if (s < 7200) {
            return String.format(Locale.ROOT, "%.0f min", s / 60);
        }
        if (s < 172800) {
            return String.format(Locale.ROOT, "%.1f h", s / 3600);
        }
        return String.format(Locale.ROOT, "%.1f days", s / 86400);
    }

    private static void deleteTree(Path dir) throws IOException {
        try (var walk = Files.walk(dir)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
