package sffn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.PrimitiveIterator;
import java.util.stream.DoubleStream;
import org.junit.jupiter.api.Test;
import sffn.train.TrainListener;

/**
 * The pairing of {@code train --yardstick}'s windows with the samples around them, on made-up
 * steps and samples: which steps count, which samples each window gets, the medians, and that
 * every call reaches the next listener.
 */
class YardstickWindowsTest {
    /** Records the steps it is passed on. */
    private static final class Seen implements TrainListener {
        final List<Integer> steps = new ArrayList<>();
        final List<String> other = new ArrayList<>();

        @Override
        public void step(Step s) {
            steps.add(s.step());
        }

        @Override
        public void evaluating(int step) {
            other.add("evaluating " + step);
        }

        @Override
        public void finished() {
            other.add("finished");
        }
    }

    /** Step {@code i} of 1000 tokens at {@code tps} tokens/s, with 1e9 FLOPs per token (so tps GFLOP/s). */
    private static TrainListener.Step step(int i, double tps) {
        return new TrainListener.Step(i, 100, 1.0, 1e-3, 0, 1.0, tps, 1000L * i, 1e12 * i, false, 0, 1000 / tps);
    }

    @Test
    void eachWindowIsComparedWithTheSamplesAroundIt() {
        Seen seen = new Seen();
        PrimitiveIterator.OfDouble samples = DoubleStream.of(100, 300, 200, 200, 400, 100).iterator();
        int[] released = {0};
        YardstickWindows w = new YardstickWindows(seen, samples::nextDouble, "fake", () -> released[0]++, 0);
        // Steps 1-3 are the JIT's warm-up: the first sample comes after step 3, nothing before counts.
        for (int i = 1; i <= 3; i++) w.step(step(i, 1));
        // One step per window (a sample after every step with everyNanos 0).
        w.step(step(4, 100)); // window [100, 300]: 100 / 200
        w.step(step(5, 100)); // [300, 200]: 100 / 250
        w.evaluating(5); // no steps since the last sample: no extra sample
        w.step(step(6, 150)); // [200, 200]: 150 / 200
        w.step(step(7, 300)); // [200, 400]: 300 / 300
        w.finished(); // no steps since the last sample: none taken, the sampler is released
        assertEquals(List.of(1, 2, 3, 4, 5, 6, 7), seen.steps);
        assertEquals(List.of("evaluating 5", "finished"), seen.other);
        assertEquals(1, released[0]);
        List<YardstickWindows.Window> ws = w.windows();
        assertEquals(4, ws.size());
        assertEquals(200, ws.get(0).yardstick(), 1e-12);
        assertEquals(250, ws.get(1).yardstick(), 1e-12);
        assertEquals(1000 / 150.0, ws.get(2).seconds(), 1e-12);
        assertEquals(1e12, ws.get(3).flops(), 1e-3);
        // Ratios 0.5, 0.4, 0.75, 1.0: median 0.625; the model FLOPs at 0.5e9 per token: half.
        String line = w.describe(0.5e9);
        assertTrue(line.contains("executed FLOPs (guide included) 62.5% of OpenBLAS"), line);
        assertTrue(line.contains("the structured model's FLOPs 31.3%"), line);
        assertTrue(line.contains("over 4 windows"), line);
        assertTrue(line.contains("(windows 40.0-100.0%)"), line);
        assertTrue(line.contains("fake, 5 samples"), line);
        assertTrue(line.contains("median 200.0 GFLOP/s, 100.0-400.0"), line);
    }

    @Test
    void anEvaluationClosesTheOpenWindowWithASample() {
        Seen seen = new Seen();
        PrimitiveIterator.OfDouble samples = DoubleStream.of(100, 100, 50, 50).iterator();
        YardstickWindows w = new YardstickWindows(seen, samples::nextDouble, "fake", () -> { }, Long.MAX_VALUE);
        for (int i = 1; i <= 3; i++) w.step(step(i, 1)); // the first sample, after step 3 (none yet: lastSample 0)
        w.step(step(4, 60));
        w.step(step(5, 60));
        w.evaluating(5); // closes [4, 5] with the second sample
        w.step(step(6, 30));
        w.finished(); // closes [6] with the third
        List<YardstickWindows.Window> ws = w.windows();
        assertEquals(2, ws.size());
        assertEquals(2e12, ws.get(0).flops(), 1e-3);
        assertEquals(100, ws.get(0).yardstick(), 1e-12);
        assertEquals(75, ws.get(1).yardstick(), 1e-12);
        assertTrue(w.describe(1e9).contains("executed FLOPs (guide included) 50.0% of OpenBLAS"), w.describe(1e9));
    }

    @Test
    void tooFewStepsSaySo() {
        YardstickWindows w = new YardstickWindows(TrainListener.SILENT, () -> 100, "fake", () -> { }, 0);
        for (int i = 1; i <= 3; i++) w.step(step(i, 1));
        w.finished();
        assertTrue(w.describe(1e9).startsWith("utilisation: no window of steps"), w.describe(1e9));
    }
}
