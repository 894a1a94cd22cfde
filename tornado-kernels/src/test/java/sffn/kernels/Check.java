package sffn.kernels;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.ToDoubleFunction;

/**
 * Test support shared by the kernel tests: random inputs, NaN poisoning, float64 helpers,
 * error metrics that fail on NaN, and a central finite-difference gradient.
 *
 * <p>Every comparison is written as {@code !(err <= bound)}, so a NaN in either operand fails.
 */
public final class Check {
    /** Finite-difference step for float64 references of O(1) inputs: truncation h^2 ~ 1e-12, rounding 1e-16/h ~ 1e-10. */
    public static final double FD_STEP = 1e-6;
    /** A float64 reference backward must match central differences of its forward this closely (max-norm relative). */
    public static final double FD_TOL = 1e-6;
    /** Absolute floor below which an error counts as zero: far below any float32 result of O(1) data. */
    public static final double TINY = 1e-30;
    /** Unit roundoff of float32: one correctly rounded operation errs by at most U times the exact result. */
    public static final double U = 0x1p-24;
    private static final boolean REPORT = Boolean.getBoolean("sffn.check.report");

    private Check() {
    }

    // ---- inputs ------------------------------------------------------------------------------

    /** A generator whose seed is derived from the test's name and its sizes, so every case gets fresh inputs. */
    public static SplittableRandom rng(String test, int... sizes) {
        return new SplittableRandom(31L * test.hashCode() + Arrays.hashCode(sizes));
    }

    /** Normal(0, sigma^2) values. */
    public static float[] randn(SplittableRandom r, int n, double sigma) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (gaussian(r) * sigma);
        return x;
    }

    public static float[] randn(SplittableRandom r, int n) {
        return randn(r, n, 1.0);
    }

    /** Uniform values in [lo, hi). */
    public static float[] uniform(SplittableRandom r, int n, double lo, double hi) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return x;
    }

    public static int[] ints(SplittableRandom r, int n, int bound) {
        int[] x = new int[n];
        for (int i = 0; i < n; i++) x[i] = r.nextInt(bound);
        return x;
    }

    private static double gaussian(SplittableRandom r) {
        double u1 = 1.0 - r.nextDouble();
        double u2 = r.nextDouble();
        return Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2.0 * Math.PI * u2);
    }

    /** An output buffer of {@code n} NaNs: any element a kernel fails to write stays NaN and fails the comparison. */
    public static float[] poisoned(int n) {
        float[] x = new float[n];
        Arrays.fill(x, Float.NaN);
        return x;
    }

    /**
     * Where {@link #inSlice} puts a tensor: kernels that take a parameter or gradient with an
     * offset (a slice of an array it shares with others on a device) are tested there.
     */
    public static final int SLICE_AT = 13;

    /** {@code x} at {@link #SLICE_AT} of a larger array whose other elements are NaN: reading them poisons the result. */
    public static float[] inSlice(float[] x) {
        float[] s = poisoned(SLICE_AT + x.length + 7);
        System.arraycopy(x, 0, s, SLICE_AT, x.length);
        return s;
    }

    /** The {@code n} elements at {@link #SLICE_AT} of {@code s}, failing if the kernel wrote anything around them. */
    public static float[] outOfSlice(String what, float[] s, int n) {
        for (int i = 0; i < s.length; i++) {
            if ((i < SLICE_AT || i >= SLICE_AT + n) && Float.floatToRawIntBits(s[i]) != Float.floatToRawIntBits(Float.NaN)) {
                fail(what + ": element " + i + " outside the slice [" + SLICE_AT + ", " + (SLICE_AT + n) + ") was written");
            }
        }
        return Arrays.copyOfRange(s, SLICE_AT, SLICE_AT + n);
    }

    /** A buffer for an {@code accumulate} run: random when accumulating (so the addend is checked), NaN otherwise. */
    public static float[] initialOutput(SplittableRandom r, int n, boolean accumulate) {
        return accumulate ? randn(r, n) : poisoned(n);
    }

    // ---- float64 helpers -----------------------------------------------------------------------

    public static double[] toDouble(float[] x) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = x[i];
        return y;
    }

    public static float[] toFloat(double[] x) {
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i++) y[i] = (float) x[i];
        return y;
    }

    public static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    public static double maxAbs(double[] x) {
        double m = 0;
        for (double v : x) m = Math.max(m, Math.abs(v));
        return m;
    }

    /**
     * The central-difference gradient of {@code f} at {@code x}:
     * {@code (f(x + h e_i) - f(x - h e_i)) / 2h} per element; x is restored.
     */
    public static double[] centralDifference(ToDoubleFunction<double[]> f, double[] x, double h) {
        double[] g = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double xi = x[i];
            x[i] = xi + h;
            double up = f.applyAsDouble(x);
            x[i] = xi - h;
            double down = f.applyAsDouble(x);
            x[i] = xi;
            g[i] = (up - down) / (2 * h);
        }
        return g;
    }

    /** Checks an analytic float64 gradient against central differences of the float64 forward, max-norm relative. */
    public static void assertMatchesFiniteDifferences(String what, double[] analytic, ToDoubleFunction<double[]> f,
                                                      double[] x) {
        double[] fd = centralDifference(f, x, FD_STEP);
        assertMaxNormClose(what + " vs central differences", analytic, fd, FD_TOL);
    }

    // ---- error metrics -----------------------------------------------------------------------

    /** Max |got - ref| over max |ref| (max |got - ref| when ref is all zero); NaN if either holds a NaN. */
    public static double relativeError(float[] got, float[] ref) {
        double err = 0;
        double norm = 0;
        for (int i = 0; i < ref.length; i++) {
            if (Float.isNaN(got[i]) || Float.isNaN(ref[i])) return Double.NaN;
            err = Math.max(err, Math.abs((double) got[i] - ref[i]));
            norm = Math.max(norm, Math.abs((double) ref[i]));
        }
        return norm == 0 ? err : err / norm;
    }

    /**
     * A float64 reference result with, per element, the magnitude of the terms that were summed
     * to make it (e.g. {@code sum |a_k b_k|} for a dot product): the scale float32 rounding errors
     * are proportional to.
     */
    public record Expected(double[] value, double[] scale) {
    }

    public static void assertClose(String what, float[] got, Expected ref, double tol) {
        assertClose(what, got, ref.value(), ref.scale(), tol);
    }

    /**
     * The CPU body and the portable body each against the float64 reference, and against each
     * other (both err by at most {@code tol * scale}, so they differ by at most twice that).
     */
    public static void assertBodiesMatch(String what, float[] cpu, float[] portable, Expected ref, double tol) {
        assertClose(what + " (CPU body)", cpu, ref, tol);
        assertClose(what + " (portable body)", portable, ref, tol);
        assertClose(what + " (CPU vs portable body)", cpu, toDouble(portable), ref.scale(), 2 * tol);
    }

    /**
     * Element-wise {@code |got[i] - ref[i]| <= tol * scale[i] + TINY}, where {@code scale[i]} is
     * the magnitude of what was summed to make element i (e.g. {@code sum |a||b|} for a dot
     * product): the bound float32 rounding can actually reach.
     */
    public static void assertClose(String what, float[] got, double[] ref, double[] scale, double tol) {
        assertSameLength(what, got.length, ref.length);
        double worst = 0;
        for (int i = 0; i < got.length; i++) {
            double err = Math.abs(got[i] - ref[i]);
            double bound = tol * scale[i] + TINY;
            if (!(err <= bound)) {
                fail(what + ": element " + i + " is " + got[i] + ", float64 reference " + ref[i] + ", error " + err
                        + " exceeds " + tol + " * " + scale[i] + " (" + got.length + " elements)");
            }
            worst = Math.max(worst, err / bound);
        }
        report(what, worst);
    }

    /** {@code ||got - ref||_inf <= tol * (||ref||_inf + TINY)}. */
    public static void assertMaxNormClose(String what, double[] got, double[] ref, double tol) {
        assertSameLength(what, got.length, ref.length);
        double norm = maxAbs(ref);
        double bound = tol * (norm + TINY);
        double worst = 0;
        for (int i = 0; i < got.length; i++) {
            double err = Math.abs(got[i] - ref[i]);
            if (!(err <= bound)) {
                fail(what + ": element " + i + " is " + got[i] + ", reference " + ref[i] + ", error " + err
                        + " exceeds " + tol + " * ||ref||_inf = " + bound + " (" + got.length + " elements)");
            }
            worst = Math.max(worst, err / bound);
        }
        report(what, worst);
    }

    /** Bit-for-bit equality (NaNs compare by their bits, so an unwritten NaN never equals a value). */
    public static void assertBitsEqual(String what, float[] expected, float[] got) {
        assertSameLength(what, expected.length, got.length);
        for (int i = 0; i < got.length; i++) {
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(got[i])) {
                fail(what + ": element " + i + " is " + got[i] + ", expected exactly " + expected[i]);
            }
        }
    }

    /** With {@code -Dsffn.check.report=true}, prints how much of each bound was used: for choosing tolerances. */
    private static void report(String what, double usedFraction) {
        if (REPORT) System.out.printf("bound used %.3f  %s%n", usedFraction, what);
    }

    private static void assertSameLength(String what, int a, int b) {
        if (a != b) fail(what + ": lengths differ, " + a + " vs " + b);
    }
}
