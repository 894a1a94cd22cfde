package sffn.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The optimizer's calls that hold several tensors (one launch on a device) give, in both bodies,
 * the bits of one call per tensor: sizes off the vector length, of one element, across
 * {@link GradNorm#CHUNK} and the CPU's chunks; slots outside a call's range left alone.
 */
class MultiTensorLaunchesTest {

    @ParameterizedTest(name = "sizes {0} {1} {2} {3}")
    @CsvSource({"1,1,1,1", "37,5,64,1", "4099,17,8195,300", "16411,2,3,4097"})
    void fourZeroedAtOnceAreZeroEverywhere(int na, int nb, int nc, int nd) {
        SplittableRandom r = Check.rng("multi.zero", na, nb, nc, nd);
        for (boolean portable : new boolean[] {true, false}) {
            float[][] x = {Check.randn(r, na), Check.randn(r, nb), Check.randn(r, nc), Check.randn(r, nd)};
            if (portable) Fill.zeroFour(x[0], x[1], x[2], x[3], na, nb, nc, nd);
            else Fill.zeroFourCpu(x[0], x[1], x[2], x[3], na, nb, nc, nd);
            for (int t = 0; t < 4; t++) {
                for (int i = 0; i < x[t].length; i++) {
                    assertEquals(0, Float.floatToRawIntBits(x[t][i]), (portable ? "portable" : "cpu") + " tensor " + t + "[" + i + "]");
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} gradients")
    @ValueSource(ints = {1, 2, 3, 5, 7, 8})
    void aGroupOfPartialSumsGivesEachTensorsSlots(int count) {
        SplittableRandom r = Check.rng("multi.gradnorm", count);
        int[] sizes = {4099, 1, 17, 8195, 300, 16411, 2, 4097};
        float[][] g = new float[count][];
        for (int t = 0; t < count; t++) g[t] = Check.randn(r, sizes[(t + count) % sizes.length]);
        int base = 3;
        int slots = 0;
        for (float[] t : g) slots += GradNorm.slots(t.length);
        for (boolean portable : new boolean[] {true, false}) {
            float[] want = Check.poisoned(base + slots + 2);
            float[] got = Check.poisoned(base + slots + 2);
            int at = base;
            for (float[] t : g) {
                if (portable) GradNorm.partialSums(t, want, at, t.length);
                else GradNorm.partialSumsCpu(t, want, at, t.length);
                at += GradNorm.slots(t.length);
            }
            if (portable) {
                // The launch's unused arguments: one-element stand-ins (as the device's task takes
                // them), NaN so that reading one would show.
                float[][] p = new float[GradNorm.GROUP][];
                for (int t = 0; t < p.length; t++) p[t] = t < count ? g[t] : Check.poisoned(1);
                GradNorm.partialSumsGroup(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], got, base, count);
            } else {
                GradNorm.partialSumsGroupCpu(g, got, base);
            }
            for (int i = 0; i < got.length; i++) {
                boolean written = i >= base && i < base + slots;
                assertEquals(written, !Float.isNaN(got[i]), "slot " + i + (written ? " unwritten" : " written"));
                assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]),
                        (portable ? "portable" : "cpu") + " slot " + i);
            }
        }
    }

    @ParameterizedTest(name = "sizes {0} {1}, weight decay {2}")
    @CsvSource({"1,1,0.1", "41,19,0.0", "16411,8193,0.1", "3,16400,0.01"})
    void twoParametersAtOnceStepAsEachAlone(int n1, int n2, float wd) {
        SplittableRandom r = Check.rng("multi.adamw", n1, n2);
        float[] scalars = AdamWTest.scalars(3);
        float[][] init = {Check.randn(r, n1), Check.randn(r, n1), Check.randn(r, n1), Check.uniform(r, n1, 0, 1),
                Check.randn(r, n2), Check.randn(r, n2), Check.randn(r, n2), Check.uniform(r, n2, 0, 1)};
        for (boolean portable : new boolean[] {true, false}) {
            float[][] alone = copies(init);
            float[][] pair = copies(init);
            if (portable) {
                AdamW.update(alone[0], alone[1], alone[2], alone[3], scalars, n1, 0.9f, 0.95f, 1e-8f, wd);
                AdamW.update(alone[4], alone[5], alone[6], alone[7], scalars, n2, 0.9f, 0.95f, 1e-8f, wd);
                AdamW.updatePair(pair[0], pair[1], pair[2], pair[3], pair[4], pair[5], pair[6], pair[7], scalars, n1, n2,
                        0.9f, 0.95f, 1e-8f, wd);
            } else {
                AdamW.updateCpu(alone[0], alone[1], alone[2], alone[3], scalars, n1, 0.9f, 0.95f, 1e-8f, wd);
                AdamW.updateCpu(alone[4], alone[5], alone[6], alone[7], scalars, n2, 0.9f, 0.95f, 1e-8f, wd);
                AdamW.updatePairCpu(pair[0], pair[1], pair[2], pair[3], pair[4], pair[5], pair[6], pair[7], scalars, n1,
                        n2, 0.9f, 0.95f, 1e-8f, wd);
            }
            for (int t = 0; t < init.length; t++) {
                for (int i = 0; i < init[t].length; i++) {
                    assertTrue(Float.isFinite(pair[t][i]), "tensor " + t + "[" + i + "] not finite");
                    assertEquals(Float.floatToRawIntBits(alone[t][i]), Float.floatToRawIntBits(pair[t][i]),
                            (portable ? "portable" : "cpu") + " tensor " + t + "[" + i + "]");
                }
            }
            // The step moved the parameters (a test of an update that did nothing would pass above)
            // and left both gradients zero.
            assertTrue(alone[0][0] != init[0][0] && alone[4][n2 - 1] != init[4][n2 - 1], "no step taken");
            for (int t : new int[] {1, 5}) {
                for (int i = 0; i < init[t].length; i++) {
                    assertEquals(0, Float.floatToRawIntBits(pair[t][i]), (portable ? "portable" : "cpu") + " gradient " + t + "[" + i + "]");
                }
            }
        }
    }

    private static float[][] copies(float[][] x) {
        float[][] c = new float[x.length][];
        for (int i = 0; i < x.length; i++) c[i] = x[i].clone();
        return c;
    }
}
