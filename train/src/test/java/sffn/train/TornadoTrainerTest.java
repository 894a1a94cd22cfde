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
