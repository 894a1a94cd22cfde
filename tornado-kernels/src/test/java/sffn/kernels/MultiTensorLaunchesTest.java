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
            // The launch's unused arguments: one-element stand-ins (as the device's task takes
            // them), NaN so that reading one would show.
            float[][] p = new float[GradNorm.GROUP][];
            for (int t = 0; t < p.length; t++) p[t] = t < count ? g[t] : Check.poisoned(1);
            if (portable) GradNorm.partialSumsGroup(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], got, base, count);
            else GradNorm.partialSumsGroupCpu(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], got, base, count);
            for (int i = 0; i < got.length; i++) {
                boolean written = i >= base && i < base + slots;
                assertEquals(written, !Float.isNaN(got[i]), "slot " + i + (written ? " unwritten" : " written"));
                assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]),
                        (portable ? "portable" : "cpu") + " slot " + i);
            }
        }
    }

    @ParameterizedTest(name = "sizes {0}, weight decay {1}")
    @CsvSource({"'1', 0.1", "'41,19', 0.0", "'16411,8193,5', 0.1", "'3,16400', 0.01", "'17,1,4099', 0.0"})
    void aGroupOfParametersStepsEachAsAlone(String sizeList, float wd) {
        int[] sizes = java.util.Arrays.stream(sizeList.split(",")).mapToInt(Integer::parseInt).toArray();
        int count = sizes.length;
        SplittableRandom r = Check.rng("multi.adamw", count, sizes[0], sizes[count - 1]);
        float[] scalars = AdamWTest.scalars(3);
        float[] hyper = {0.9f, 0.95f, 1e-8f, wd};
        // Per parameter: value, gradient, first and second moment.
        float[][][] init = new float[count][][];
        for (int j = 0; j < count; j++) {
            int n = sizes[j];
            init[j] = new float[][] {Check.randn(r, n), Check.randn(r, n), Check.randn(r, n), Check.uniform(r, n, 0, 1)};
        }
        for (boolean portable : new boolean[] {true, false}) {
            float[][][] alone = new float[count][][];
            float[][][] group = new float[count][][];
            for (int j = 0; j < count; j++) {
                alone[j] = copies(init[j]);
                group[j] = copies(init[j]);
                float[][] x = alone[j];
                if (portable) AdamW.update(x[0], x[1], x[2], x[3], scalars, sizes[j], 0.9f, 0.95f, 1e-8f, wd);
                else AdamW.updateCpu(x[0], x[1], x[2], x[3], scalars, sizes[j], 0.9f, 0.95f, 1e-8f, wd);
            }
            // The parameters the launch lacks: one-element stand-ins (as the device's task takes
            // them), NaN so that reading one would show.
            float[][] a = new float[4 * AdamW.GROUP][];
            for (int i = 0; i < a.length; i++) a[i] = i / 4 < count ? group[i / 4][i % 4] : Check.poisoned(1);
            if (portable) {
                AdamW.updateGroup(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], scalars, hyper,
                        count);
            } else {
                AdamW.updateGroupCpu(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], scalars,
                        hyper, count);
            }
            for (int j = 0; j < count; j++) {
                for (int k = 0; k < 4; k++) {
                    for (int i = 0; i < sizes[j]; i++) {
                        assertTrue(Float.isFinite(group[j][k][i]),
                                "parameter " + j + " tensor " + k + "[" + i + "] not finite");
                        assertEquals(Float.floatToRawIntBits(alone[j][k][i]), Float.floatToRawIntBits(group[j][k][i]),
                                (portable ? "portable" : "cpu") + " parameter " + j + " tensor " + k + "[" + i + "]");
                    }
                }
                // The step moved the parameter (a test of an update that did nothing would pass
                // above) and left its gradient zero.
                assertTrue(group[j][0][0] != init[j][0][0], "no step taken on parameter " + j);
                for (int i = 0; i < sizes[j]; i++) {
                    assertEquals(0, Float.floatToRawIntBits(group[j][1][i]), (portable ? "portable" : "cpu") + " gradient "
                            + j + "[" + i + "]");
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
