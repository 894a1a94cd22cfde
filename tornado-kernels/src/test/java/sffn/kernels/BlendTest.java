package sffn.kernels;

import static org.junit.jupiter.api.Assertions.fail;
import static sffn.kernels.Check.assertBitsEqual;
import static sffn.kernels.Check.assertBodiesMatch;
import static sffn.kernels.Check.assertMatchesFiniteDifferences;
import static sffn.kernels.Check.poisoned;
import static sffn.kernels.Check.randn;
import static sffn.kernels.Check.toDouble;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import sffn.kernels.Check.Expected;

class BlendTest {
    /** 1 - a, two products and a sum: four roundings, each <= u of the scale |a g| + |(1 - a) s|. */
    static final double TOL = 4 * Check.U;
    static final int SWITCH = StepScalars.GUIDE_SWITCHES + 1;

    /** Only GUIDE_ALPHA and the layer's switch are numbers, so reading any other slot shows as NaN. */
    static float[] scalars(float alpha, float on) {
        float[] s = poisoned(StepScalars.size(3));
        s[StepScalars.GUIDE_ALPHA] = alpha;
        s[SWITCH] = on;
        return s;
    }

    /** s' = a g + (1 - a) s. */
    static Expected forward(double[] g, double[] s, double a) {
        double[] y = new double[s.length];
        double[] mag = new double[s.length];
        for (int i = 0; i < s.length; i++) {
            y[i] = a * g[i] + (1 - a) * s[i];
            mag[i] = Math.abs(a * g[i]) + Math.abs((1 - a) * s[i]);
        }
        return new Expected(y, mag);
    }

    /** Scaled copies of the output gradient: dguide = a dout (k = a), dstructured = (1 - a) dout (k = 1 - a). */
    static Expected scaled(double[] dout, double k) {
        double[] y = new double[dout.length];
        double[] mag = new double[dout.length];
        for (int i = 0; i < dout.length; i++) {
            y[i] = k * dout[i];
            mag[i] = Math.abs(y[i]) + Math.abs(dout[i]) * Check.U;
        }
        return new Expected(y, mag);
    }

    @ParameterizedTest(name = "n={0} a={1}")
    @CsvSource({"1,0.3", "17,0.3", "33,0.7", "130,0", "131,1", "32785,0.45"})
    void switchedOnBlendsForwardAndSplitsTheGradient(int n, float a) {
        SplittableRandom r = Check.rng("blend.on", n, Float.floatToIntBits(a));
        float[] guide = randn(r, n);
        float[] structured = randn(r, n);
        float[] scalars = scalars(a, 1f);
        float[] cpu = structured.clone();
        float[] portable = structured.clone();
        Blend.forwardCpu(guide, cpu, scalars, SWITCH, n);
        Blend.forward(guide, portable, scalars, SWITCH, n);
        assertBodiesMatch("blend forward", cpu, portable, forward(toDouble(guide), toDouble(structured), a), TOL);

        float[] dout = randn(r, n);
        float[] doutCpu = dout.clone();
        float[] doutPortable = dout.clone();
        float[] dguideCpu = poisoned(n);
        float[] dguidePortable = poisoned(n);
        Blend.backwardCpu(doutCpu, dguideCpu, scalars, SWITCH, n);
        Blend.backward(doutPortable, dguidePortable, scalars, SWITCH, n);
        assertBodiesMatch("blend dguide", dguideCpu, dguidePortable, scaled(toDouble(dout), a), TOL);
        assertBodiesMatch("blend dstructured", doutCpu, doutPortable, scaled(toDouble(dout), 1.0 - a), TOL);
    }

    /** With the switch off the guide is not read (it is all NaN here) and nothing flows to it. */
    @ParameterizedTest(name = "n={0}")
    @CsvSource({"1", "17", "130", "32785"})
    void switchedOffLeavesStructuredUntouchedAndZeroesTheGuideGradient(int n) {
        SplittableRandom r = Check.rng("blend.off", n);
        float[] guide = poisoned(n);
        float[] structured = randn(r, n);
        float[] scalars = scalars(0.6f, 0f);
        float[] cpu = structured.clone();
        float[] portable = structured.clone();
        Blend.forwardCpu(guide, cpu, scalars, SWITCH, n);
        Blend.forward(guide, portable, scalars, SWITCH, n);
        assertBitsEqual("blend forward, switch off (CPU body)", structured, cpu);
        assertBitsEqual("blend forward, switch off (portable body)", structured, portable);

        float[] dout = randn(r, n);
        float[] doutCpu = dout.clone();
        float[] doutPortable = dout.clone();
        float[] dguideCpu = poisoned(n);
        float[] dguidePortable = poisoned(n);
        Blend.backwardCpu(doutCpu, dguideCpu, scalars, SWITCH, n);
        Blend.backward(doutPortable, dguidePortable, scalars, SWITCH, n);
        assertBitsEqual("blend dstructured, switch off (CPU body)", dout, doutCpu);
        assertBitsEqual("blend dstructured, switch off (portable body)", dout, doutPortable);
        assertAllZero("blend dguide, switch off (CPU body)", dguideCpu);
        assertAllZero("blend dguide, switch off (portable body)", dguidePortable);
    }

    /** Every element is +0 or -0 (an unwritten NaN fails). */
    private static void assertAllZero(String what, float[] x) {
        for (int i = 0; i < x.length; i++) {
            if (!(x[i] == 0f)) fail(what + ": element " + i + " is " + x[i] + ", expected 0");
        }
    }

    /** L = sum w * blend(g, s). */
    @ParameterizedTest(name = "n={0} a={1}")
    @CsvSource({"1,0.3", "17,0.8"})
    void float64BackwardMatchesFiniteDifferences(int n, double a) {
        SplittableRandom r = Check.rng("blend.fd", n);
        double[] g = toDouble(randn(r, n));
        double[] s = toDouble(randn(r, n));
        double[] w = toDouble(randn(r, n));
        assertMatchesFiniteDifferences("blend dguide", scaled(w, a).value(),
                x -> Check.dot(w, forward(x, s, a).value()), g);
        assertMatchesFiniteDifferences("blend dstructured", scaled(w, 1 - a).value(),
                x -> Check.dot(w, forward(g, x, a).value()), s);
    }
}
