package sffn.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sffn.kernels.backend.CpuBackend;
import sffn.nn.Gpt;
import sffn.nn.config.Activation;
import sffn.nn.config.FfnType;
import sffn.nn.config.MethodConfig;
import sffn.nn.config.ModelConfig;
import sffn.nn.config.Norm;
import sffn.nn.config.PositionEmbedding;
import sffn.nn.config.PostInit;
import sffn.train.data.TokenShardWriter;

class TrainerTest {
    static final ModelConfig MODEL = new ModelConfig(32, 32, 64, 4, 2, 2, 32, 24, true, Norm.LAYERNORM, Activation.GELU,
            false, PositionEmbedding.ROPE, 10000, 0.02);
    static final MethodConfig LOWRANK = new MethodConfig(FfnType.LOWRANK, 8, 0, PostInit.SVD, false);

    @TempDir
    static Path data;

    /** A small corpus with structure to learn: a repeating pattern with noise, 24 symbols. */
    @BeforeAll
    static void writeShards() throws IOException {
        Random rng = new Random(3);
        try (TokenShardWriter train = new TokenShardWriter(data.resolve("toy_train_000000.bin"), 24);
             TokenShardWriter val = new TokenShardWriter(data.resolve("toy_val_000000.bin"), 24)) {
            for (int i = 0; i < 40_000; i++) train.write(i % 7 == 0 ? rng.nextInt(24) : (i * 5) % 24);
            for (int i = 0; i < 4_000; i++) val.write(i % 7 == 0 ? rng.nextInt(24) : (i * 5) % 24);
        }
    }

    static TrainConfig config(int steps, boolean guided, TrainConfig.Mode mode, boolean reduceFlop) {
        return TrainConfig.defaults().with(b -> {
            b.batchSize = 4;
            b.seqLen = 16;
            b.gradAccum = 2;
            b.steps = steps;
            b.lr = 3e-3;
            b.evalWindows = 16;
            b.evalEvery = 0; // only at the end, whatever the defaults
            b.saveEvery = 0;
            b.seed = 99;
            b.selfGuided = guided ? new TrainConfig.SelfGuided(true, 0.5, TrainConfig.Schedule.COSINE, mode, reduceFlop)
                    : TrainConfig.SelfGuided.OFF;
            return b;
        });
    }

    @Test
    void lossFallsOnASmallShard(@TempDir Path out) throws IOException {
        TrainConfig c = config(60, false, TrainConfig.Mode.FIXEDSTEP, false);
        Trainer t = Trainer.start(new Gpt(MODEL, LOWRANK).init(c.seed()), c, new CpuBackend(), data, out, TrainListener.SILENT);
        double before = t.evaluate();
        t.run();
        double after = t.lastValLoss();
        assertTrue(before > Math.log(24) - 0.2, "an untrained model is near uniform: " + before);
        assertTrue(after < before - 1.0, "val loss should fall by more than a nat: " + before + " -> " + after);
    }

    @Test
    void resumedRunEndsWithTheSameBytesAsAnUninterruptedOne(@TempDir Path dir) throws IOException {
        // Guided with fixedflop and reduce_flop: the resume crosses the guide drop and the repeat phase.
        TrainConfig c = config(8, true, TrainConfig.Mode.FIXEDFLOP, true);
        Path whole = dir.resolve("whole");
        Trainer.start(new Gpt(MODEL, LOWRANK).init(c.seed()), c, new CpuBackend(), data, whole, TrainListener.SILENT).run();

        Path parts = dir.resolve("parts");
        Trainer.start(new Gpt(MODEL, LOWRANK).init(c.seed()), c, new CpuBackend(), data, parts, TrainListener.SILENT).runUntil(3);
        Trainer.resume(parts, new CpuBackend(), null, TrainListener.SILENT).runUntil(9);
        Trainer last = Trainer.resume(parts, new CpuBackend(), null, TrainListener.SILENT);
        assertEquals(9, last.step());
        last.run();

        assertEquals(12, c.totalSteps());
        for (String f : List.of("model.safetensors", "optimizer.safetensors")) {
            assertArrayEquals(Files.readAllBytes(whole.resolve(f)), Files.readAllBytes(parts.resolve(f)), f + " differs");
        }
        ObjectMapper json = new ObjectMapper();
        JsonNode a = json.readTree(whole.resolve(TrainerState.FILE).toFile());
        JsonNode b = json.readTree(parts.resolve(TrainerState.FILE).toFile());
        assertEquals(a.get("step"), b.get("step"));
        assertEquals(a.get("train_loader"), b.get("train_loader"));
        assertEquals(a.get("rng_state"), b.get("rng_state"));
        assertEquals(a.get("flops"), b.get("flops"));
        List<String> ma = Files.readAllLines(whole.resolve(Trainer.METRICS));
        List<String> mb = Files.readAllLines(parts.resolve(Trainer.METRICS));
        assertEquals(ma, mb.stream().map(TrainerTest::withoutTiming).toList().equals(ma.stream().map(TrainerTest::withoutTiming).toList())
                ? ma : mb, "metrics.jsonl holds the same lines, but for the measured tokens/s");
    }

    static String withoutTiming(String line) {
        return line.replaceAll("\"(tokens_per_s|time|elapsed_s)\":[^,}]*", "");
    }

    @Test
    void nonFiniteLossStopsAndKeepsTheLastCheckpoint(@TempDir Path out) throws IOException {
        TrainConfig c = config(6, false, TrainConfig.Mode.FIXEDSTEP, false).with(b -> {
            b.saveEvery = 2;
            return b;
        });
        Gpt model = new Gpt(MODEL, LOWRANK).init(c.seed());
        Trainer t = Trainer.start(model, c, new CpuBackend(), data, out, TrainListener.SILENT);
        t.runUntil(2);
        byte[] saved = Files.readAllBytes(out.resolve("model.safetensors"));
        model.finalNorm().parameters().get(0).value.data[0] = Float.NaN;
        Trainer.TrainingDiverged e = assertThrows(Trainer.TrainingDiverged.class, t::run);
        assertTrue(e.getMessage().contains("loss is NaN at step 3"), e.getMessage());
        assertTrue(e.getMessage().contains("(step 2)"), e.getMessage());
        assertArrayEquals(saved, Files.readAllBytes(out.resolve("model.safetensors")));
        assertEquals(2, TrainerState.read(out).step());
    }

    @Test
    void selfGuidedRunFittedToADenseBudgetSpendsIt(@TempDir Path dir) throws IOException {
        TrainConfig dense = config(10, false, TrainConfig.Mode.FIXEDSTEP, false);
        double budget = sffn.nn.ModelStats.of(MODEL, MethodConfig.DENSE, dense.seqLen()).trainingFlops(1) * dense.tokensPerStep() * 10;
        TrainConfig sgt = FlopBudget.fit(config(10, true, TrainConfig.Mode.FIXEDFLOP, false), MODEL, LOWRANK, budget, s -> { });
        Trainer t = Trainer.start(new Gpt(MODEL, LOWRANK).init(1), sgt, new CpuBackend(), data, dir, TrainListener.SILENT);
        t.run();
        double spent = TrainerState.read(dir).flops();
        double step = sffn.nn.ModelStats.of(MODEL, LOWRANK, dense.seqLen()).trainingFlops(1) * dense.tokensPerStep();
        double guide = sffn.nn.ModelStats.guideFlopsPerToken(MODEL, LOWRANK) * dense.tokensPerStep();
        // Guided steps are a whole number: the run falls short of the budget by less than one guided step and its repeat.
        assertTrue(spent <= budget && spent > budget - (2 * step + guide), "spent " + spent + " of " + budget);
    }

    @Test
    void guideFlopsAreCountedOnlyWhileTheGuideRuns(@TempDir Path dir) throws IOException {
        TrainConfig plain = config(4, false, TrainConfig.Mode.FIXEDSTEP, false);
        TrainConfig guided = config(4, true, TrainConfig.Mode.FIXEDSTEP, false);
        Trainer a = Trainer.start(new Gpt(MODEL, LOWRANK).init(1), plain, new CpuBackend(), data, dir.resolve("a"), TrainListener.SILENT);
        a.run();
        Trainer b = Trainer.start(new Gpt(MODEL, LOWRANK).init(1), guided, new CpuBackend(), data, dir.resolve("b"), TrainListener.SILENT);
        b.run();
        double fa = TrainerState.read(dir.resolve("a")).flops();
        double fb = TrainerState.read(dir.resolve("b")).flops();
        // Two guided steps; guides on fc1 [64,32] and fc2 [32,64] of both layers; 128 tokens per step.
        double guide = 2 * 3.0 * 2.0 * (2 * 2 * 32 * 64) * 128;
        assertEquals(fa + guide, fb, 1e-6 * fb);
    }
}
