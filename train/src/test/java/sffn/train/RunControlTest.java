package sffn.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import sffn.train.data.TokenShardWriter;

/** Stopping a run on request (Ctrl-C) and resuming it with a changed plan. */
class RunControlTest {
    @TempDir
    static Path data;

    @BeforeAll
    static void writeShards() throws IOException {
        Random rng = new Random(5);
        try (TokenShardWriter train = new TokenShardWriter(data.resolve("toy_train_000000.bin"), 24);
             TokenShardWriter val = new TokenShardWriter(data.resolve("toy_val_000000.bin"), 24)) {
            for (int i = 0; i < 20_000; i++) train.write(i % 7 == 0 ? rng.nextInt(24) : (i * 5) % 24);
            for (int i = 0; i < 2_000; i++) val.write(i % 7 == 0 ? rng.nextInt(24) : (i * 5) % 24);
        }
    }

    private static Trainer start(TrainConfig c, Path out, TrainListener l) throws IOException {
        return Trainer.start(new Gpt(TrainerTest.MODEL, TrainerTest.LOWRANK).init(c.seed()), c, new CpuBackend(), data, out, l);
    }

    @Test
    void aStopRequestSavesTheStepAndTheResumedRunEndsAsAnUninterruptedOne(@TempDir Path dir) throws IOException {
        TrainConfig c = TrainerTest.config(8, true, TrainConfig.Mode.FIXEDSTEP, false);
        Path whole = dir.resolve("whole");
        start(c, whole, TrainListener.SILENT).run();

        Path parts = dir.resolve("parts");
        Trainer[] t = new Trainer[1];
        t[0] = start(c, parts, new TrainListener() {
            @Override
            public void step(Step s) {
                if (s.step() == 3) {
                    t[0].requestStop(true); // as the SIGINT handler does, from another thread in real use
                }
            }
        });
        t[0].run();
        assertTrue(t[0].stopRequested());
        assertEquals(3, t[0].step());
        assertEquals(3, TrainerState.read(parts).step(), "a checkpoint of the step it stopped at");
        Trainer resumed = Trainer.resume(parts, new CpuBackend(), null, TrainListener.SILENT);
        assertEquals(3, resumed.step());
        resumed.run();
        for (String f : List.of("model.safetensors", "optimizer.safetensors")) {
            assertArrayEquals(Files.readAllBytes(whole.resolve(f)), Files.readAllBytes(parts.resolve(f)), f + " differs");
        }
    }

    @Test
    void resumeExtendsTheRunAndSaysItIsNoLongerBitExact(@TempDir Path out) throws IOException {
        TrainConfig c = TrainerTest.config(6, false, TrainConfig.Mode.FIXEDSTEP, false);
        start(c, out, TrainListener.SILENT).run();
        TrainConfig saved = Trainer.savedConfig(out);
        RunChange.Result r = RunChange.apply(saved, saved.with(b -> {
            b.steps = 10;
            b.lr = 1e-3;
            return b;
        }), 6, false);
        assertEquals(List.of("resume: changed steps 6 -> 10, lr 0.003 -> 0.001",
                "resume: the run is no longer bit-exact with its original plan (from step 6 on, e.g. the learning-rate"
                        + " schedule follows the new settings)"), r.lines());
        Trainer t = Trainer.resume(out, new CpuBackend(), null, TrainListener.SILENT, sffn.train.dist.Parallelism.single(), x -> r.config());
        t.run();
        assertEquals(10, t.step());
        assertEquals(10, Trainer.savedConfig(out).steps(), "the checkpoint records the new plan");
        ObjectMapper json = new ObjectMapper();
        List<String> lines = Files.readAllLines(out.resolve(Trainer.METRICS));
        assertEquals(10, json.readTree(lines.get(lines.size() - 1)).get("step").asInt());
        assertTrue(json.readTree(lines.get(0)).has("time") && json.readTree(lines.get(0)).has("elapsed_s"), lines.get(0));
    }

    @Test
    void cadenceChangesKeepTheRunBitExactAndFixedFieldsAreRefused() {
        TrainConfig c = TrainerTest.config(100, true, TrainConfig.Mode.FIXEDSTEP, false);
        RunChange.Result cadence = RunChange.apply(c, c.with(b -> {
            b.evalEvery = 10;
            b.saveEvery = 20;
            return b;
        }), 40, false);
        assertEquals(List.of("resume: changed eval_every 0 -> 10, save_every 0 -> 20",
                "resume: evaluation and checkpoint cadence only; the weights stay bit-exact with the original plan"), cadence.lines());
        assertEquals(List.of(), RunChange.apply(c, c, 40, false).lines());

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RunChange.apply(c, c.with(b -> {
            b.seqLen = 32;
            return b;
        }), 40, false));
        assertTrue(e.getMessage().startsWith("--resume cannot change seq_len (16 -> 32)"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> RunChange.apply(c, c.with(b -> {
            b.steps = 30;
            return b;
        }), 40, false), "shorter than the step the run is at");
    }

    @Test
    void moreStepsKeepTheGuidedPhaseAsLongAsItWas() {
        TrainConfig c = TrainerTest.config(100, true, TrainConfig.Mode.FIXEDFLOP, false);
        assertEquals(50, c.guidedSteps());
        for (int steps : new int[] {101, 150, 333, 1000}) {
            RunChange.Result r = RunChange.apply(c, c.with(b -> {
                b.steps = steps;
                return b;
            }), 70, false);
            assertEquals(50, r.config().guidedSteps(), steps + " steps");
            assertEquals(steps + 50, r.config().totalSteps());
        }
        // a new ratio given on the command line is taken as it is, and refused once the guided phase is past
        assertThrows(IllegalArgumentException.class, () -> RunChange.apply(c, c.with(b -> {
            b.steps = 200;
            return b;
        }), 70, true));
    }
}
