package sffn.kernels;

import static sffn.kernels.Check.assertBitsEqual;
import static sffn.kernels.Check.assertBodiesMatch;
import static sffn.kernels.Check.assertMatchesFiniteDifferences;
import static sffn.kernels.Check.poisoned;
import static sffn.kernels.Check.randn;
import static sffn.kernels.Check.toDouble;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import sffn.kernels.Check.Expected;

class CrossEntropyTest {
    /**
     * The softmax denominator sums V <= 257 positive float32 terms: relative error <= ~V u, i.e.
     * ~V u absolute on the loss (scale 1 + |max| + |logit_t|) and ~V u relative on each
     * probability; (257 + a few) u = 1.6e-5 < 2e-5.
     */
    static final double TOL = 2e-5;

    /** loss = logsumexp(logits) - logits[t], 0 when t < 0; the scale is 1 + |max| + |logits[t]|. */
    static Expected losses(double[] logits, int[] targets, int rows, int v) {
        double[] loss = new double[rows];
        double[] mag = new double[rows];
        for (int r = 0; r < rows; r++) {
            int t = targets[r];
            if (t < 0) continue;
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < v; j++) max = Math.max(max, logits[r * v + j]);
            double sum = 0;
            for (int j = 0; j < v; j++) sum += Math.exp(logits[r * v + j] - max);
            loss[r] = Math.log(sum) + max - logits[r * v + t];
            mag[r] = 1 + Math.abs(max) + Math.abs(logits[r * v + t]);
        }
        return new Expected(loss, mag);
    }

    /** dlogits = scale (softmax - onehot(t)), 0 on rows with t < 0. */
    static Expected gradient(double[] logits, int[] targets, double scale, int rows, int v) {
        double[] g = new double[rows * v];
        double[] mag = new double[rows * v];
        for (int r = 0; r < rows; r++) {
            int t = targets[r];
            if (t < 0) continue;
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < v; j++) max = Math.max(max, logits[r * v + j]);
            double sum = 0;
            for (int j = 0; j < v; j++) sum += Math.exp(logits[r * v + j] - max);
            for (int j = 0; j < v; j++) {
                double p = Math.exp(logits[r * v + j] - max) / sum;
                double onehot = j == t ? 1 : 0;
                g[r * v + j] = scale * (p - onehot);
                mag[r * v + j] = Math.abs(scale) * (p + onehot);
            }
        }
        return new Expected(g, mag);
    }

    /** Logits of spread 3 around a per-row offset in [-30, 30) (softmax must subtract the max); every 4th target ignored. */
    private static float[] logits(SplittableRandom r, int rows, int v) {
        float[] x = randn(r, rows * v, 3.0);
        for (int row = 0; row < rows; row++) {
            float offset = (float) (60 * r.nextDouble() - 30);
            for (int j = 0; j < v; j++) x[row * v + j] += offset;
        }
        return x;
    }

    private static int[] targets(SplittableRandom r, int rows, int v) {
        int[] t = Check.ints(r, rows, v);
        for (int i = 1; i < rows; i += 4) t[i] = -1;
        return t;
    }

    /** Only the LOSS_SCALE slot is a number, so reading any other slot shows as NaN. */
    private static float[] scalars(float lossScale) {
        float[] s = poisoned(StepScalars.size(2));
        s[StepScalars.LOSS_SCALE] = lossScale;
        return s;
    }

    @ParameterizedTest(name = "rows={0} v={1}")
    @CsvSource({"1,1", "3,17", "5,31", "7,257", "17,33", "4,130", "2,129"})
    void lossAndGradientMatchFloat64IgnoringTargetMinusOne(int rows, int v) {
        SplittableRandom r = Check.rng("crossentropy", rows, v);
        float[] logits = logits(r, rows, v);
        int[] targets = targets(r, rows, v);
        long counted = Arrays.stream(targets).filter(t -> t >= 0).count();
        float lossScale = 1f / counted;
        float[] scalars = scalars(lossScale);
        Expected refLoss = losses(toDouble(logits), targets, rows, v);
        Expected refGrad = gradient(toDouble(logits), targets, lossScale, rows, v);

        float[] lossCpu = poisoned(rows);
        float[] lossPortable = poisoned(rows);
        CrossEntropy.forwardCpu(logits, targets, lossCpu, rows, v);
        CrossEntropy.forward(logits, targets, lossPortable, rows, v);
        assertBodiesMatch("cross-entropy forward loss", lossCpu, lossPortable, refLoss, TOL);

        lossCpu = poisoned(rows);
        lossPortable = poisoned(rows);
        float[] gradCpu = poisoned(rows * v);
        float[] gradPortable = poisoned(rows * v);
        CrossEntropy.forwardBackwardCpu(logits, targets, lossCpu, gradCpu, scalars, rows, v);
        CrossEntropy.forwardBackward(logits, targets, lossPortable, gradPortable, scalars, rows, v);
        assertBodiesMatch("cross-entropy forwardBackward loss", lossCpu, lossPortable, refLoss, TOL);
        assertBodiesMatch("cross-entropy gradient", gradCpu, gradPortable, refGrad, TOL);

        float[] inPlaceCpu = logits.clone();
        float[] inPlacePortable = logits.clone();
        CrossEntropy.forwardBackwardCpu(inPlaceCpu, targets, lossCpu, inPlaceCpu, scalars, rows, v);
        CrossEntropy.forwardBackward(inPlacePortable, targets, lossPortable, inPlacePortable, scalars, rows, v);
        assertBitsEqual("cross-entropy gradient written over the logits (CPU body)", gradCpu, inPlaceCpu);
        assertBitsEqual("cross-entropy gradient written over the logits (portable body)", gradPortable, inPlacePortable);
    }

    /** L = scale * sum of the counted rows' losses: its gradient is the kernel's dlogits. */
    @ParameterizedTest(name = "rows={0} v={1}")
    @CsvSource({"1,1", "3,5", "5,17", "2,257"})
    void float64GradientMatchesFiniteDifferencesOfScaledLoss(int rows, int v) {
        SplittableRandom r = Check.rng("crossentropy.fd", rows, v);
        double[] logits = toDouble(randn(r, rows * v, 2.0));
        int[] targets = targets(r, rows, v);
        double scale = 0.37;
        assertMatchesFiniteDifferences("cross-entropy dlogits", gradient(logits, targets, scale, rows, v).value(),
                x -> scale * Arrays.stream(losses(x, targets, rows, v).value()).sum(), logits);
    }
}
