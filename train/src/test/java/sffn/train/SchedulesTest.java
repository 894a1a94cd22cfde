package sffn.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The LR and guide schedules hit their defined values at the boundaries (the paper's code's conventions). */
class SchedulesTest {
    static TrainConfig run(int steps, TrainConfig.SelfGuided g) {
        return TrainConfig.defaults().with(b -> {
            b.steps = steps;
            b.lr = 1e-3;
            b.minLrRatio = 0.1;
            b.warmupRatio = 0.1;
            b.selfGuided = g;
            return b;
        });
    }

    @Test
    void learningRateWarmsUpLinearlyThenFollowsACosineToOneTenth() {
        TrainConfig c = run(100, TrainConfig.SelfGuided.OFF);
        assertEquals(1e-4, Schedules.learningRate(c, 0), 1e-15, "first warmup step: (0+1)/10 of the peak");
        assertEquals(5e-4, Schedules.learningRate(c, 4), 1e-15);
        assertEquals(1e-3, Schedules.learningRate(c, 9), 1e-15, "last warmup step reaches the peak");
        assertEquals(1e-3, Schedules.learningRate(c, 10), 1e-15, "cosine starts at the peak");
        assertEquals(0.55e-3, Schedules.learningRate(c, 55), 1e-15, "halfway through the cosine: the mean of peak and floor");
        double last = Schedules.learningRate(c, 99);
        assertTrue(last > 1e-4 && last < 1.01e-4, "last step just above the floor 0.1 x lr: " + last);
        for (int s = 10; s < 99; s++) {
            assertTrue(Schedules.learningRate(c, s + 1) <= Schedules.learningRate(c, s), "decays monotonically at " + s);
        }
    }

    @Test
    void fixedflopStretchesTheLrScheduleOverTheRepeatedSteps() {
        TrainConfig c = run(100, new TrainConfig.SelfGuided(true, 0.3, TrainConfig.Schedule.COSINE, TrainConfig.Mode.FIXEDFLOP, false));
        assertEquals(130, c.totalSteps());
        assertEquals(30, c.guidedSteps());
        assertEquals(1e-3, Schedules.learningRate(c, 12), 1e-15, "warmup is 10% of all 130 steps");
        assertTrue(Schedules.learningRate(c, 129) < 1.01e-4);
    }

    @Test
    void guideWeightDecaysFromOneToZeroOverTheGuidedSteps() {
        assertEquals(1.0, Schedules.guideWeight(TrainConfig.Schedule.COSINE, 10, 0), 0);
        assertEquals(0.5, Schedules.guideWeight(TrainConfig.Schedule.COSINE, 10, 5), 1e-15);
        assertEquals((1 + Math.cos(Math.PI * 0.9)) / 2, Schedules.guideWeight(TrainConfig.Schedule.COSINE, 10, 9), 1e-15);
        assertEquals(0.0, Schedules.guideWeight(TrainConfig.Schedule.COSINE, 10, 10), 0, "zero at the end: the guide is dropped");
        assertEquals(1.0, Schedules.guideWeight(TrainConfig.Schedule.LINEAR, 10, 0), 0);
        assertEquals(0.7, Schedules.guideWeight(TrainConfig.Schedule.LINEAR, 10, 3), 1e-15);
        assertEquals(0.1, Schedules.guideWeight(TrainConfig.Schedule.LINEAR, 10, 9), 1e-15);
        assertEquals(0.0, Schedules.guideWeight(TrainConfig.Schedule.LINEAR, 10, 12), 0);
    }

    @Test
    void guidedStepsRoundDownAsThePapersCode() {
        TrainConfig.SelfGuided g = new TrainConfig.SelfGuided(true, 0.5, TrainConfig.Schedule.COSINE, TrainConfig.Mode.FIXEDSTEP, false);
        assertEquals(3, g.guidedSteps(7));
        assertEquals(0, TrainConfig.SelfGuided.OFF.guidedSteps(7));
        assertEquals(7, run(7, g).totalSteps(), "fixedstep adds no steps");
    }
}
