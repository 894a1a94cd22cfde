package sffn.kernels;

import static sffn.kernels.Check.assertBitsEqual;
import static sffn.kernels.Check.assertBodiesMatch;
import static sffn.kernels.Check.assertClose;
import static sffn.kernels.Check.assertMatchesFiniteDifferences;
import static sffn.kernels.Check.randn;
import static sffn.kernels.Check.toDouble;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import sffn.kernels.Check.Expected;

class RopeTest {
    /**
     * Each output is x1 c - x2 s from float tables (each rounded, <= u) with two products and a
     * subtraction: at most ~5 u (|x1| + |x2|); 1e-6 is ~17 u.
     */
    static final double TOL = 1e-6;
    /** A table entry is a float64 cos or sin rounded once to float32. */
    static final double TABLE_TOL = Check.U;
    static final double BASE = 10000;

    /**
     * Rotates the first {@code heads} heads of each row of x [rows, rowStride] by angle
     * {@code sign * pos * base^(-2i/d)}, pos = posOffset + r % seqLen, rotate-half pairing.
     * Sign -1 is the transpose of sign +1 (a rotation's transpose is its inverse).
     */
    static Expected rotate(double[] x, int rows, int seqLen, int posOffset, int heads, int d, int rowStride,
                           double sign) {
        double[] y = x.clone();
        double[] mag = new double[x.length];
        for (int i = 0; i < x.length; i++) mag[i] = Math.abs(x[i]);
        int half = d / 2;
        for (int r = 0; r < rows; r++) {
            int pos = posOffset + r % seqLen;
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < half; i++) {
                    double angle = sign * pos * Math.pow(BASE, -2.0 * i / d);
                    int o = r * rowStride + h * d + i;
                    double x1 = x[o];
                    double x2 = x[o + half];
                    y[o] = x1 * Math.cos(angle) - x2 * Math.sin(angle);
                    y[o + half] = x2 * Math.cos(angle) + x1 * Math.sin(angle);
                    mag[o] = Math.abs(x1) + Math.abs(x2);
                    mag[o + half] = mag[o];
                }
            }
        }
        return new Expected(y, mag);
    }

    @ParameterizedTest(name = "maxPos={0} d={1}")
    @CsvSource({"1,2", "17,8", "40,34", "9,40"})
    void tablesAreFloat64CosAndSinRoundedOnce(int maxPos, int d) {
        float[][] t = Rope.tables(maxPos, d, BASE);
        int half = d / 2;
        double[] cos = new double[maxPos * half];
        double[] sin = new double[maxPos * half];
        for (int p = 0; p < maxPos; p++) {
            for (int i = 0; i < half; i++) {
                double angle = p * Math.pow(BASE, -2.0 * i / d);
                cos[p * half + i] = Math.cos(angle);
                sin[p * half + i] = Math.sin(angle);
            }
        }
        assertClose("rope cos table", t[0], cos, abs(cos), TABLE_TOL);
        assertClose("rope sin table", t[1], sin, abs(sin), TABLE_TOL);
    }

    /**
     * Rows of a fused qkv buffer: the first {@code heads} heads rotate, the {@code extra} heads
     * after them (the value heads) must come out bit for bit unchanged.
     */
    @ParameterizedTest(name = "batch={0} seqLen={1} posOffset={2} heads={3} extra={4} d={5}")
    @CsvSource({"1,1,0,1,0,2", "2,7,0,3,1,8", "3,5,11,4,2,40", "1,17,3,2,1,24", "2,1,9,5,1,34"})
    void rotationMatchesFloat64AndSignMinusOneUndoesIt(int batch, int seqLen, int posOffset, int heads, int extra,
                                                       int d) {
        SplittableRandom r = Check.rng("rope", batch, seqLen, posOffset, heads, extra, d);
        int rows = batch * seqLen;
        int stride = (heads + extra) * d;
        float[][] t = Rope.tables(posOffset + seqLen, d, BASE);
        float[] x = randn(r, rows * stride);
        float[] cpu = x.clone();
        float[] portable = x.clone();
        Rope.rotateCpu(cpu, t[0], t[1], rows, seqLen, posOffset, heads, d, stride, 1f);
        Rope.rotate(portable, t[0], t[1], rows, seqLen, posOffset, heads, d, stride, 1f);
        Expected ref = rotate(toDouble(x), rows, seqLen, posOffset, heads, d, stride, 1);
        assertBodiesMatch("rope +1", cpu, portable, ref, TOL);
        assertUntouchedBeyondHeads(x, cpu, rows, heads * d, stride, "rope +1 (CPU body)");
        assertUntouchedBeyondHeads(x, portable, rows, heads * d, stride, "rope +1 (portable body)");

        Rope.rotateCpu(cpu, t[0], t[1], rows, seqLen, posOffset, heads, d, stride, -1f);
        Rope.rotate(portable, t[0], t[1], rows, seqLen, posOffset, heads, d, stride, -1f);
        Expected identity = new Expected(toDouble(x), ref.scale());
        assertBodiesMatch("rope -1 after +1", cpu, portable, identity, 2 * TOL);
    }

    /** The backward (sign -1) applied to an output gradient is the float64 transpose of the forward. */
    @ParameterizedTest(name = "batch={0} seqLen={1} posOffset={2} heads={3} extra={4} d={5}")
    @CsvSource({"1,1,0,1,0,2", "2,7,0,3,1,8", "3,5,11,4,2,40", "2,1,9,5,1,34"})
    void backwardMatchesFloat64Transpose(int batch, int seqLen, int posOffset, int heads, int extra, int d) {
        SplittableRandom r = Check.rng("rope.backward", batch, seqLen, posOffset, heads, extra, d);
        int rows = batch * seqLen;
        int stride = (heads + extra) * d;
        float[][] t = Rope.tables(posOffset + seqLen, d, BASE);
        float[] dy = randn(r, rows * stride);
        float[] cpu = dy.clone();
        float[] portable = dy.clone();
        Rope.rotateCpu(cpu, t[0], t[1], rows, seqLen, posOffset, heads, d, stride, -1f);
        Rope.rotate(portable, t[0], t[1], rows, seqLen, posOffset, heads, d, stride, -1f);
        assertBodiesMatch("rope backward", cpu, portable,
                rotate(toDouble(dy), rows, seqLen, posOffset, heads, d, stride, -1), TOL);
    }

    /** L = sum dy * rope(x): dL/dx is the rotation by minus the angle. */
    @ParameterizedTest(name = "batch={0} seqLen={1} posOffset={2} heads={3} extra={4} d={5}")
    @CsvSource({"1,1,0,1,0,2", "2,3,4,2,1,8"})
    void float64TransposeMatchesFiniteDifferences(int batch, int seqLen, int posOffset, int heads, int extra, int d) {
        SplittableRandom r = Check.rng("rope.fd", batch, seqLen, posOffset, heads, extra, d);
        int rows = batch * seqLen;
        int stride = (heads + extra) * d;
        double[] x = toDouble(randn(r, rows * stride));
        double[] dy = toDouble(randn(r, rows * stride));
        assertMatchesFiniteDifferences("rope backward",
                rotate(dy, rows, seqLen, posOffset, heads, d, stride, -1).value(),
                v -> Check.dot(dy, rotate(v, rows, seqLen, posOffset, heads, d, stride, 1).value()), x);
    }

    private static void assertUntouchedBeyondHeads(float[] before, float[] after, int rows, int rotated, int stride,
                                                   String what) {
        for (int r = 0; r < rows; r++) {
            assertBitsEqual(what + " row " + r + " beyond the rotated heads",
                    Arrays.copyOfRange(before, r * stride + rotated, (r + 1) * stride),
                    Arrays.copyOfRange(after, r * stride + rotated, (r + 1) * stride));
        }
    }

    private static double[] abs(double[] x) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = Math.abs(x[i]);
        return y;
    }
}
