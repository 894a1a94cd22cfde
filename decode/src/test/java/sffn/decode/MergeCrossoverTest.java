package sffn.decode;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The crossover a calibration picks from measured times of both forms at 1, 2, 4, ... tokens. */
class MergeCrossoverTest {
    /** Points at 1, 2, 4, ... tokens with the given structured and merged milliseconds. */
    private static List<MergeCalibration.Point> points(double[] structured, double[] merged) {
        List<MergeCalibration.Point> p = new ArrayList<>();
        for (int i = 0; i < structured.length; i++) p.add(new MergeCalibration.Point("s", 1 << i, structured[i], merged[i]));
        return p;
    }

    @Test
    void structuredEverywhereIsUsedFromOneToken() {
        assertEquals(1, MergeCalibration.crossover(points(new double[] {1, 1, 2, 4}, new double[] {3, 3, 4, 6})));
    }

    @Test
    void mergedEverywhereIsNeverStructured() {
        assertEquals(Integer.MAX_VALUE, MergeCalibration.crossover(points(new double[] {3, 3, 4, 6}, new double[] {1, 1, 2, 4})));
    }

    @Test
    void mergedAtFewTokensThenStructured() {
        assertEquals(4, MergeCalibration.crossover(points(new double[] {2, 2, 2, 3, 4}, new double[] {1, 1, 3, 5, 8})));
    }

    /**
     * On a CPU: structured much faster at few tokens, a little slower at 32 and 64. The old rule
     * (structured only if it wins at every larger count) decoded every token merged.
     */
    @Test
    void aSmallLossAtManyTokensDoesNotMergeTheFewTokenSteps() {
        double[] structured = {1, 1.1, 1.3, 1.8, 2.9, 5.2, 10.5};
        double[] merged = {2.6, 2.7, 2.8, 3.0, 3.3, 5.0, 9.8};
        assertEquals(1, MergeCalibration.crossover(points(structured, merged)));
    }

    @Test
    void equalTimesChooseTheStructuredForm() {
        assertEquals(1, MergeCalibration.crossover(points(new double[] {1, 2}, new double[] {1, 2})));
    }
}
