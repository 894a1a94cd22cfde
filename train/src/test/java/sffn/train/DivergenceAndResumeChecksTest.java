package sffn.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sffn.kernels.backend.CpuBackend;
import sffn.nn.Gpt;
import sffn.nn.Parameter;
import sffn.train.data.Split;
import sffn.train.data.TokenShardWriter;

/**
 * A run that blows up never saves what it blew up into, and resume refuses files that do not
 * belong together. Uses {@link TrainerTest}'s model and shards.
 */
class DivergenceAndResumeChecksTest {
    @TempDir
    static Path data;

    /** TrainerTest's corpus: a repeating pattern with noise, 24 symbols. */
    @BeforeAll
    static void writeShards() throws IOException {
        java.util.Random rng = new java.util.Random(3);
        try (TokenShardWriter train = new TokenShardWriter(data.resolve("toy_train_000000.bin"), 24);
             TokenShardWriter val = new TokenShardWriter(data.resolve("toy_val_000000.bin"), 24)) {
            for (int i = 0; i < 40_000; i++) train.write(i % 7 == 0 ? rng.nextInt(24) : (i * 5) % 24);
            for (int i = 0; i < 4_000; i++) val.write(i % 7 == 0 ? rng.nextInt(24) : (i * 5) % 24);
        }
    }

    private static Path shards() {
        return data;
    }

    private static TrainConfig config(int evalEvery) {
        return TrainerTest.config(6, false, TrainConfig.Mode.FIXEDSTEP, false).with(b -> {
            b.saveEvery = 1;
            b.evalEvery = evalEvery;
            return b;
        });
    }

    /** Poisons one second moment: the next update turns that parameter's weights to NaN while its loss is still finite. */
    private static void poisonMoment(Gpt model) {
        Parameter p = model.parameters().get(0);
        p.adamV().data[0] = Float.NaN;
    }

    @Test
    void nonFiniteWeightsAreNeverSaved(@TempDir Path out) throws IOException {
        Gpt model = new Gpt(TrainerTest.MODEL, TrainerTest.LOWRANK).init(1);
        Trainer t = Trainer.start(model, config(0), new CpuBackend(), shards(), out, TrainListener.SILENT);
        t.runUntil(2);
        byte[] saved = Files.readAllBytes(out.resolve("model.safetensors"));
        poisonMoment(model);
        Trainer.TrainingDiverged e = assertThrows(Trainer.TrainingDiverged.class, t::run);
        assertTrue(e.getMessage().startsWith("after step 3 the "), e.getMessage());
        assertTrue(e.getMessage().contains("stopping without saving. The last good checkpoint in " + out + " (step 2) is kept"),
                e.getMessage());
        assertArrayEquals(saved, Files.readAllBytes(out.resolve("model.safetensors")));
        assertEquals(2, TrainerState.read(out).step());
    }

    @Test
    void nonFiniteValidationLossStopsTheRunBeforeTheSave(@TempDir Path out) throws IOException {
        Gpt model = new Gpt(TrainerTest.MODEL, TrainerTest.LOWRANK).init(1);
        Trainer t = Trainer.start(model, config(1), new CpuBackend(), shards(), out, TrainListener.SILENT);
        t.runUntil(2);
        poisonMoment(model);
        Trainer.TrainingDiverged e = assertThrows(Trainer.TrainingDiverged.class, t::run);
        assertTrue(e.getMessage().startsWith("validation loss is NaN after step 3; stopping without saving."), e.getMessage());
        assertTrue(e.getMessage().contains("(step 2) is kept"), e.getMessage());
        assertEquals(2, TrainerState.read(out).step());
    }

    @Test
    void aDivergenceBeforeAnySaveClaimsNoCheckpoint(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("run");
        Gpt model = new Gpt(TrainerTest.MODEL, TrainerTest.LOWRANK).init(1);
        poisonMoment(model);
        Trainer t = Trainer.start(model, config(0), new CpuBackend(), shards(), out, TrainListener.SILENT);
        Trainer.TrainingDiverged e = assertThrows(Trainer.TrainingDiverged.class, t::run);
        assertTrue(e.getMessage().contains("after step 1 the "), e.getMessage());
        assertTrue(e.getMessage().contains("No checkpoint was saved in " + out), e.getMessage());
        assertTrue(!Files.exists(out), "nothing written");
    }

    @Test
    void resumeRefusesATrainerStateBeyondTheRun(@TempDir Path out) throws IOException {
        Trainer t = Trainer.start(new Gpt(TrainerTest.MODEL, TrainerTest.LOWRANK).init(1), config(0), new CpuBackend(), shards(),
                out, TrainListener.SILENT);
        t.runUntil(2);
        Path state = out.resolve(TrainerState.FILE);
        Files.writeString(state, Files.readString(state).replaceFirst("\"step\" : 2", "\"step\" : 7"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Trainer.resume(out, new CpuBackend(), null, TrainListener.SILENT));
        assertEquals(state + ": field 'step' is 7, beyond the run's 6 steps (config.json); the files do not belong together",
                e.getMessage());
    }

    @Test
    void everyValidationWindowCountsWhateverTheBatchSize() throws IOException {
        Gpt model = new Gpt(TrainerTest.MODEL, TrainerTest.LOWRANK).init(5);
        CpuBackend cpu = new CpuBackend();
        Validation one = new Validation(model, shards(), 1, 16, null);
        cpu.prepare(one.graph().plan);
        Validation.Result r1 = one.measure(cpu, 30);
        assertEquals(249, one.windowCount(), "(4000 - 1) / 16 windows");
        assertEquals(30 * 16, r1.tokens());
        Validation.Result all7 = null;
        for (int batch : new int[] {7, 8}) {
            Validation v = new Validation(model, shards(), batch, 16, null);
            cpu.prepare(v.graph().plan);
            Validation.Result r = v.measure(cpu, 30); // 30 windows: a last, partial batch
            assertEquals(r1.tokens(), r.tokens(), "batch " + batch);
            assertEquals(r1.loss(), r.loss(), 1e-6 * r1.loss(), "batch " + batch);
            Validation.Result all = v.measure(cpu, 0);
            assertEquals(249 * 16, all.tokens(), "every window, batch " + batch);
            if (all7 == null) all7 = all;
            assertEquals(all7.loss(), all.loss(), 1e-6 * all7.loss(), "every window, batch " + batch);
        }
        assertThrows(IllegalArgumentException.class, () -> one.measure(cpu, -1));
    }

    @Test
    void dataWithoutValidationShardsTrainsWithoutEvaluation(@TempDir Path noVal) throws IOException {
        try (TokenShardWriter w = new TokenShardWriter(noVal.resolve(Split.TRAIN.shardName("toy", 0)), 24)) {
            for (int i = 0; i < 4000; i++) w.write((i * 5) % 24);
        }
        assertTrue(!Validation.available(noVal));
        Path out = noVal.resolveSibling(noVal.getFileName() + "-out");
        TrainConfig c = config(1).with(b -> {
            b.steps = 2;
            b.saveEvery = 0;
            return b;
        });
        Trainer t = Trainer.start(new Gpt(TrainerTest.MODEL, TrainerTest.LOWRANK).init(1), c, new CpuBackend(), noVal,
                out, TrainListener.SILENT);
        t.run();
        assertEquals(2, t.step());
        assertTrue(Double.isNaN(t.lastValLoss()));
    }
}
