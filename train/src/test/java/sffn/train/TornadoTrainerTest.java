package sffn.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sffn.kernels.backend.Backend;
import sffn.kernels.backend.Backends;
import sffn.kernels.backend.CpuBackend;
import sffn.nn.Gpt;
import sffn.nn.Parameter;
import sffn.train.data.TokenShardWriter;

/**
 * The whole training loop on the TornadoVM backend against the CPU backend: gradient
 * accumulation, clipping, AdamW, the self-guided phase under fixedflop with reduce_flop (which
 * drops the guides, so the backend rebuilds its plans mid-run), evaluation and checkpoints. The
 * losses, gradient norms and final weights must agree within float32 tolerance.
 */
class TornadoTrainerTest {
    /**
     * Per-step relative difference of loss and gradient norm. The backends sum in different
     * orders (~1e-7 relative per step, see TornadoTrainingStepTest); Adam amplifies small gradient
     * differences where v is tiny, so the curves drift apart slowly: measured below 1e-5 here.
     */
    static final double CURVE_TOLERANCE = 1e-4;
    /** Final weights, per tensor, max |tornado - cpu| over max |cpu|. */
    static final double WEIGHT_TOLERANCE = 1e-3;

    @TempDir
    static Path data;

    @BeforeAll
    static void writeShards() throws IOException {
        Random rng = new Random(3);
        try (TokenShardWriter train = new TokenShardWriter(data.resolve("toy_train_000000.bin"), 24);
             TokenShardWriter val = new TokenShardWriter(data.resolve("toy_val_000000.bin"), 24)) {
            for (int i = 0; i < 40_000; i++) train.write(i % 7 == 0 ? rng.nextInt(24) : (i * 5) % 24);
            for (int i = 0; i < 4_000; i++) val.write(i % 7 == 0 ? rng.nextInt(24) : (i * 5) % 24);
        }
    }

    @BeforeEach
    void tornado() {
        String why = Backends.tornadoUnavailableReason();
        Assumptions.assumeTrue(why == null, () -> why + " (TornadoVM tests run with scripts/test-tornado)");
    }

    @Test
    void guidedRunMatchesCpuBackend(@TempDir Path dir) throws IOException {
        TrainConfig c = TrainerTest.config(8, true, TrainConfig.Mode.FIXEDFLOP, true).with(b -> {
            b.evalEvery = 4;
            return b;
        });
        Path cpuOut = dir.resolve("cpu");
        Path devOut = dir.resolve("tornado");
        Gpt cpuModel = new Gpt(TrainerTest.MODEL, TrainerTest.LOWRANK).init(c.seed());
        Trainer.start(cpuModel, c, new CpuBackend(), data, cpuOut, TrainListener.SILENT).run();
        Gpt devModel = new Gpt(TrainerTest.MODEL, TrainerTest.LOWRANK).init(c.seed());
        long t0 = System.nanoTime();
        try (Backend backend = Backends.create("tornado", System.getProperty("sffn.tornado.device"))) {
            Trainer.start(devModel, c, backend, data, devOut, TrainListener.SILENT).run();
            System.out.printf(Locale.ROOT, "%s: %d steps in %.1f s (compiles included)%n", backend.describe(), c.totalSteps(),
                    (System.nanoTime() - t0) / 1e9);
        }

        List<JsonNode> a = metrics(cpuOut);
        List<JsonNode> b = metrics(devOut);
        assertEquals(a.size(), b.size(), "metrics.jsonl lines");
        List<String> failures = new ArrayList<>();
        System.out.println("step  field      cpu            tornado        rel diff");
        for (int i = 0; i < a.size(); i++) {
            for (String f : List.of("loss", "grad_norm", "val_loss")) {
                if (!a.get(i).has(f)) continue;
                double x = a.get(i).get(f).asDouble();
                double y = b.get(i).get(f).asDouble();
                double rel = Math.abs(x - y) / Math.abs(x);
                System.out.printf(Locale.ROOT, "%4d  %-9s  %.9f  %.9f  %.2e%n", a.get(i).get("step").asInt(), f, x, y, rel);
                if (!(rel <= CURVE_TOLERANCE)) failures.add("step " + a.get(i).get("step") + " " + f + ": cpu " + x + ", tornado " + y);
            }
            for (String f : List.of("step", "lr", "a", "tokens", "flops")) {
                if (a.get(i).has(f) && !a.get(i).get(f).equals(b.get(i).get(f))) {
                    failures.add("line " + i + " field " + f + ": cpu " + a.get(i).get(f) + ", tornado " + b.get(i).get(f));
                }
            }
        }
        List<Parameter> pa = cpuModel.parameters();
        List<Parameter> pb = devModel.parameters();
        assertEquals(pa.size(), pb.size());
        double worst = 0;
        for (int i = 0; i < pa.size(); i++) {
            double e = relativeError(pb.get(i).value.data, pa.get(i).value.data);
            worst = Math.max(worst, e);
            if (!(e <= WEIGHT_TOLERANCE)) failures.add(pa.get(i).name + " after the run differs by " + e);
        }
        System.out.printf(Locale.ROOT, "final weights: worst relative difference %.2e over %d tensors%n", worst, pa.size());
        if (!failures.isEmpty()) fail(String.join("\n", failures));
    }

    /**
     * The parameters, gradients and moments in eight shared device arrays (AdamW, the gradient
     * norm's partial sums and the zeroing one launch each) train as each tensor in an array of its
     * own does, through the guide's drop (plans rebuilt: the device's values go to the host and
     * back), evaluations and checkpoints; and the layout is in use where it should be. Not bit for
     * bit: TornadoVM builds OpenCL kernels with -cl-fast-relaxed-math, so the one AdamW kernel
     * and the three-parameter ones may round differently (on PoCL the first step's loss and
     * gradient norm agree to the bit, the second's loss by 6e-10 relative); far within the CPU
     * comparison's bounds.
     */
    @Test
    void sharedParameterArraysTrainAsOwnArraysDo(@TempDir Path dir) throws IOException {
        TrainConfig c = TrainerTest.config(8, true, TrainConfig.Mode.FIXEDFLOP, true).with(b -> {
            b.evalEvery = 4;
            return b;
        });
        Gpt[] models = new Gpt[2];
        String[] layouts = new String[2];
        for (int run = 0; run < 2; run++) {
            String key = "sffn.tornado.flatParams";
            String before = System.getProperty(key);
            System.setProperty(key, run == 0 ? "true" : "false");
            try (Backend backend = Backends.create("tornado", System.getProperty("sffn.tornado.device"))) {
                models[run] = new Gpt(TrainerTest.MODEL, TrainerTest.LOWRANK).init(c.seed());
                Trainer.start(models[run], c, backend, data, dir.resolve("run" + run), TrainListener.SILENT).run();
                layouts[run] = ((sffn.kernels.tornado.TornadoBackend) backend).parameterLayout();
            } finally {
                if (before == null) System.clearProperty(key);
                else System.setProperty(key, before);
            }
        }
        assertEquals("shared", layouts[0], "the default layout");
        assertEquals("own: -Dsffn.tornado.flatParams=false", layouts[1]);
        List<JsonNode> a = metrics(dir.resolve("run0"));
        List<JsonNode> b = metrics(dir.resolve("run1"));
        assertEquals(a.size(), b.size(), "metrics.jsonl lines");
        double worstCurve = 0;
        for (int i = 0; i < a.size(); i++) {
            for (String f : List.of("loss", "grad_norm", "val_loss")) {
                if (!a.get(i).has(f)) continue;
                double x = a.get(i).get(f).asDouble();
                double rel = Math.abs(x - b.get(i).get(f).asDouble()) / Math.abs(x);
                worstCurve = Math.max(worstCurve, rel);
                if (!(rel <= SHARED_CURVE_TOLERANCE)) fail("line " + i + " " + f + ": shared " + x + ", own " + b.get(i).get(f));
            }
        }
        List<Parameter> pa = models[0].parameters();
        List<Parameter> pb = models[1].parameters();
        assertEquals(pa.size(), pb.size());
        double worstWeight = 0;
        for (int i = 0; i < pa.size(); i++) {
            double e = relativeError(pa.get(i).value.data, pb.get(i).value.data);
            worstWeight = Math.max(worstWeight, e);
            if (!(e <= SHARED_WEIGHT_TOLERANCE)) fail(pa.get(i).name + ": shared and own arrays differ by " + e);
        }
        System.out.printf(Locale.ROOT, "shared vs own arrays: curves within %.2e, weights within %.2e relative%n", worstCurve,
                worstWeight);
    }

    /** Shared against own parameter arrays on one device: 100 times tighter than against the CPU. */
    static final double SHARED_CURVE_TOLERANCE = CURVE_TOLERANCE / 100;
    static final double SHARED_WEIGHT_TOLERANCE = WEIGHT_TOLERANCE / 100;

    private static List<JsonNode> metrics(Path dir) throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(dir.resolve(Trainer.METRICS))) out.add(json.readTree(line));
        return out;
    }

    static double relativeError(float[] got, float[] ref) {
        double err = 0;
        double norm = 0;
        for (int i = 0; i < ref.length; i++) {
            if (Float.isNaN(got[i]) || Float.isNaN(ref[i])) return Double.NaN;
            err = Math.max(err, Math.abs((double) got[i] - ref[i]));
            norm = Math.max(norm, Math.abs((double) ref[i]));
        }
        return norm == 0 ? err : err / norm;
    }
}
