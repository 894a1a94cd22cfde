package sffn.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static sffn.kernels.Check.assertBitsEqual;
import static sffn.kernels.Check.assertBodiesMatch;
import static sffn.kernels.Check.assertClose;
import static sffn.kernels.Check.poisoned;
import static sffn.kernels.Check.randn;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import sffn.kernels.Check.Expected;

class GradNormTest {
    /**
     * A chunk's sum of squares adds CHUNK = 4096 positive float32 terms: <= 4096 u = 2.4e-4 of
     * the sum in the worst order; the square root halves that for the norm. Element coverage is
     * checked exactly by {@link #integerGradientsGiveExactSlotsNormAndClip()}, not by this bound.
     */
    static final double SUM_TOL = 4096 * Check.U;
    static final double NORM_TOL = SUM_TOL / 2 + 2 * Check.U;
    /** clip = maxNorm / (norm + 1e-6): an add and a division on a norm within NORM_TOL. */
    static final double CLIP_TOL = NORM_TOL + 3 * Check.U;

    /** Gradient tensors of awkward sizes, one of them exactly a chunk, several spanning chunks. */
    static final int[] SIZES = {1, 17, 4096, 4097, 130, 8209, 31};

    static int totalSlots() {
        int s = 0;
        for (int n : SIZES) s += GradNorm.slots(n);
        return s;
    }

    /** Runs partial sums over every tensor (each at its base), then finish; returns the partials. */
    static float[] run(boolean cpu, float[][] grads, float[] scalars, float maxNorm, int extraSlots) {
        float[] partials = poisoned(totalSlots() + extraSlots);
        int base = 0;
        for (float[] g : grads) {
            if (cpu) GradNorm.partialSumsCpu(g, partials, base, g.length);
            else GradNorm.partialSums(g, partials, base, g.length);
            base += GradNorm.slots(g.length);
        }
        if (cpu) GradNorm.finishCpu(partials, scalars, base, maxNorm);
        else GradNorm.finish(partials, scalars, base, maxNorm);
        return partials;
    }

    /** Per chunk of CHUNK elements, the float64 sum of squares, in the slot order of run(). */
    static Expected slotSums(float[][] grads) {
        double[] s = new double[totalSlots()];
        int slot = 0;
        for (float[] g : grads) {
            for (int i = 0; i < g.length; i++) s[slot + i / GradNorm.CHUNK] += (double) g[i] * g[i];
            slot += GradNorm.slots(g.length);
        }
        return new Expected(s, s);
    }

    static double norm(float[][] grads) {
        double s = 0;
        for (float[] g : grads) for (float v : g) s += (double) v * v;
        return Math.sqrt(s);
    }

    /** PyTorch's clip_grad_norm_: scale by maxNorm / (norm + 1e-6) when that is below 1. */
    static double clip(double norm, double maxNorm) {
        return maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1.0;
    }

    static float[][] gradients(SplittableRandom r) {
        float[][] g = new float[SIZES.length][];
        for (int i = 0; i < SIZES.length; i++) g[i] = randn(r, SIZES[i], 0.01 * (i + 1));
        return g;
    }

    /** Step scalars with random values in every slot, so the slots finish must not touch can be checked. */
    static float[] scalars(SplittableRandom r) {
        return Check.uniform(r, StepScalars.size(4), 0.5, 2);
    }

    @Test
    void partialSumsNormAndClipMatchFloat64AndClipOnlyAboveMaxNorm() {
        SplittableRandom r = Check.rng("gradnorm");
        float[][] grads = gradients(r);
        double norm = norm(grads);
        for (double ratio : new double[] {0.5, 0.999, 1.5, 0}) {
            float maxNorm = (float) (ratio * norm);
            float[] scalars = scalars(r);
            float[] sCpu = scalars.clone();
            float[] sPortable = scalars.clone();
            int extra = 3;
            float[] pCpu = run(true, grads, sCpu, maxNorm, extra);
            float[] pPortable = run(false, grads, sPortable, maxNorm, extra);
            String what = "gradnorm maxNorm=" + ratio + " norm";
            assertBodiesMatch(what + " partial sums", Arrays.copyOf(pCpu, totalSlots()),
                    Arrays.copyOf(pPortable, totalSlots()), slotSums(grads), SUM_TOL);
            assertBitsEqual(what + " slots past the last tensor (CPU body)", poisoned(extra),
                    Arrays.copyOfRange(pCpu, totalSlots(), pCpu.length));
            assertBitsEqual(what + " slots past the last tensor (portable body)", poisoned(extra),
                    Arrays.copyOfRange(pPortable, totalSlots(), pPortable.length));

            double c = clip(norm, maxNorm);
            assertBodiesMatch(what + " GRAD_NORM", new float[] {sCpu[StepScalars.GRAD_NORM]},
                    new float[] {sPortable[StepScalars.GRAD_NORM]}, new Expected(new double[] {norm}, new double[] {norm}),
                    NORM_TOL);
            assertBodiesMatch(what + " CLIP_SCALE", new float[] {sCpu[StepScalars.CLIP_SCALE]},
                    new float[] {sPortable[StepScalars.CLIP_SCALE]}, new Expected(new double[] {c}, new double[] {c}),
                    CLIP_TOL);
            if (!(ratio > 0 && ratio < 1)) {
                assertEquals(1f, sCpu[StepScalars.CLIP_SCALE], what + ": no clipping at or below maxNorm (CPU body)");
                assertEquals(1f, sPortable[StepScalars.CLIP_SCALE], what + ": no clipping (portable body)");
            }
            for (int slot = 0; slot < scalars.length; slot++) {
                if (slot == StepScalars.GRAD_NORM || slot == StepScalars.CLIP_SCALE) continue;
                assertEquals(scalars[slot], sCpu[slot], what + ": step scalar " + slot + " changed (CPU body)");
                assertEquals(scalars[slot], sPortable[slot], what + ": step scalar " + slot + " changed (portable body)");
            }
        }
    }

    /**
     * Integer gradients in [-3, 3]: every square and every partial sum (< 2^24) is exact in
     * float32, so slots, norm and clip factor are exact up to the final rounding, and an element
     * missed or counted twice shows exactly.
     */
    @Test
    void integerGradientsGiveExactSlotsNormAndClip() {
        SplittableRandom r = Check.rng("gradnorm.exact");
        float[][] grads = new float[SIZES.length][];
        for (int i = 0; i < SIZES.length; i++) {
            grads[i] = new float[SIZES[i]];
            for (int j = 0; j < SIZES[i]; j++) grads[i][j] = r.nextInt(7) - 3;
        }
        double norm = norm(grads);
        float maxNorm = (float) (norm / 3);
        for (boolean cpu : new boolean[] {true, false}) {
            String body = cpu ? " (CPU body)" : " (portable body)";
            float[] scalars = scalars(r);
            float[] partials = run(cpu, grads, scalars, maxNorm, 0);
            assertBitsEqual("gradnorm exact partial sums" + body, Check.toFloat(slotSums(grads).value()), partials);
            assertEquals((float) norm, scalars[StepScalars.GRAD_NORM], "gradnorm exact norm" + body);
            assertClose("gradnorm exact clip" + body, new float[] {scalars[StepScalars.CLIP_SCALE]},
                    new double[] {clip(norm, maxNorm)}, new double[] {1}, 3 * Check.U);

            // A norm exactly at maxNorm is not clipped.
            float atMax = scalars[StepScalars.GRAD_NORM];
            if (cpu) GradNorm.finishCpu(partials, scalars, totalSlots(), atMax);
            else GradNorm.finish(partials, scalars, totalSlots(), atMax);
            assertEquals(1f, scalars[StepScalars.CLIP_SCALE], "gradnorm clip with norm == maxNorm" + body);
        }
    }

    /** On a small norm the 1e-6 of PyTorch's maxNorm / (norm + 1e-6) is visible: 5e-4 -> clip 0.1996, not 0.2. */
    @Test
    void clipFactorKeepsPyTorchsEpsilonOnASmallNorm() {
        float[][] grads = {{3e-4f, -4e-4f}};
        for (boolean cpu : new boolean[] {true, false}) {
            float[] scalars = new float[StepScalars.size(0)];
            float[] partials = poisoned(1);
            if (cpu) GradNorm.partialSumsCpu(grads[0], partials, 0, 2);
            else GradNorm.partialSums(grads[0], partials, 0, 2);
            if (cpu) GradNorm.finishCpu(partials, scalars, 1, 1e-4f);
            else GradNorm.finish(partials, scalars, 1, 1e-4f);
            double norm = norm(grads);
            String body = cpu ? " (CPU body)" : " (portable body)";
            assertClose("gradnorm small norm" + body, new float[] {scalars[StepScalars.GRAD_NORM]},
                    new double[] {norm}, new double[] {norm}, 4 * Check.U);
            assertClose("gradnorm small-norm clip" + body, new float[] {scalars[StepScalars.CLIP_SCALE]},
                    new double[] {clip(norm, 1e-4)}, new double[] {1}, 8 * Check.U);
        }
    }

    /** The same gradients give the same bits every time, whatever thread ran which chunk. */
    @Test
    void repeatedCpuRunsAreBitIdentical() {
        SplittableRandom r = Check.rng("gradnorm.determinism");
        float[][] grads = gradients(r);
        float[] scalars0 = scalars(r);
        float[] firstScalars = scalars0.clone();
        float[] firstPartials = run(true, grads, firstScalars, 0.1f, 0);
        for (int i = 0; i < 20; i++) {
            float[] s = scalars0.clone();
            float[] partials = run(true, grads, s, 0.1f, 0);
            assertBitsEqual("gradnorm partial sums, run " + i, firstPartials, partials);
            assertBitsEqual("gradnorm step scalars, run " + i, firstScalars, s);
        }
    }
}
