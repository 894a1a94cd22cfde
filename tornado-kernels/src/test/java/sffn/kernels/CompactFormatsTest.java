package sffn.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The bfloat16 and int8 weight formats: rounding rules, special values, exact round trips. */
class CompactFormatsTest {

    /** The bfloat16 nearest to x (ties to the even mantissa), by comparing the two neighbours in double. */
    private static short nearestBf16(float x) {
        int bits = Float.floatToRawIntBits(x);
        short down = (short) (bits >>> 16);
        short up = (short) ((bits >>> 16) + 1);
        double dDown = Math.abs((double) Bf16.toFloat(down) - x);
        double dUp = Math.abs((double) Bf16.toFloat(up) - x);
        if (dDown < dUp) return down;
        if (dUp < dDown) return up;
        return (down & 1) == 0 ? down : up;
    }

    @Test
    void bf16RoundsToNearestEvenOnRandomFloats() {
        SplittableRandom r = Check.rng("bf16.rne");
        for (int i = 0; i < 200_000; i++) {
            float x = Float.intBitsToFloat(r.nextInt() & 0xbfffffff); // finite: exponent below 255
            short got = Bf16.fromFloat(x);
            short want = nearestBf16(x);
            if (got != want) fail("bf16 of " + x + " is " + Integer.toHexString(got & 0xffff) + ", expected " + Integer.toHexString(want & 0xffff));
        }
    }

    @Test
    void bf16TiesGoToEven() {
        float oneAndHalfUlp = 1f + 0x1p-8f;      // halfway between 1 and 1 + 2^-7: stays 1 (even)
        float threeHalfUlps = 1f + 3 * 0x1p-8f;  // halfway between 1 + 2^-7 and 1 + 2^-6: up to the even one
        assertEquals(1f, Bf16.toFloat(Bf16.fromFloat(oneAndHalfUlp)));
        assertEquals(1f + 0x1p-6f, Bf16.toFloat(Bf16.fromFloat(threeHalfUlps)));
        assertEquals(-1f, Bf16.toFloat(Bf16.fromFloat(-oneAndHalfUlp)));
    }

    @Test
    void bf16KeepsNaNsInfinitiesZerosAndOverflowsToInfinity() {
        assertTrue(Float.isNaN(Bf16.toFloat(Bf16.fromFloat(Float.NaN))));
        // A NaN whose payload lies only in the low 16 bits must not truncate to an infinity.
        float lowPayloadNaN = Float.intBitsToFloat(0x7f800001);
        assertTrue(Float.isNaN(Bf16.toFloat(Bf16.fromFloat(lowPayloadNaN))));
        assertTrue(Float.isNaN(Bf16.toFloat(Bf16.fromFloat(Float.intBitsToFloat(0xff800001)))));
        assertEquals(Float.POSITIVE_INFINITY, Bf16.toFloat(Bf16.fromFloat(Float.POSITIVE_INFINITY)));
        assertEquals(Float.NEGATIVE_INFINITY, Bf16.toFloat(Bf16.fromFloat(Float.NEGATIVE_INFINITY)));
        assertEquals(Float.POSITIVE_INFINITY, Bf16.toFloat(Bf16.fromFloat(Float.MAX_VALUE)));
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(Bf16.toFloat(Bf16.fromFloat(-0f))));
    }

    /** The portable bodies' arithmetic decoder gives every pattern's value, bit for bit (any NaN for a NaN). */
    @Test
    void theArithmeticBf16DecoderAgreesWithTheBitShiftOnEveryPattern() {
        for (int i = 0; i < 1 << 16; i++) {
            short b = (short) i;
            float want = Bf16.toFloat(b);
            float got = Bf16.decode(b);
            if (Float.isNaN(want)) {
                assertTrue(Float.isNaN(got), "pattern " + Integer.toHexString(i) + ": " + got + ", want NaN");
            } else {
                assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(got),
                        "pattern " + Integer.toHexString(i) + ": " + got + ", want " + want);
            }
        }
    }

    /**
     * The portable bodies' arithmetic encoder gives fromFloat's bits: on random floats of every
     * exponent (subnormals included), on every bfloat16 value and the floats halfway between
     * neighbours (ties) and one float step either side of them, and at the largest values that
     * still round down or already round up to infinity. NaN gives a NaN, minus zero plus zero.
     */
    @Test
    void theArithmeticBf16EncoderAgreesWithTheBitRounding() {
        SplittableRandom r = Check.rng("bf16.encode");
        for (int i = 0; i < 400_000; i++) {
            float x = Float.intBitsToFloat(r.nextInt() & 0xbfffffff | (r.nextBoolean() ? 0x40000000 & r.nextInt() : 0));
            if (Float.isNaN(x) || x == 0f) continue;
            assertEncodes(x);
        }
        for (int b = 0; b < 0x10000; b++) {
            float f = Bf16.toFloat((short) b);
            if (Float.isNaN(f) || f == 0f || Float.isInfinite(f)) continue;
            int bits = Float.floatToRawIntBits(f);
            for (int delta : new int[] {0, 0x7fff, 0x8000, 0x8001, -1, -0x7fff, -0x8000, -0x8001}) {
                float x = Float.intBitsToFloat(bits + delta);
                if (Float.isNaN(x) || Float.isInfinite(x) || Math.signum(x) != Math.signum(f) || x == 0f) continue;
                assertEncodes(x);
            }
        }
        for (float x : new float[] {Float.MAX_VALUE, -Float.MAX_VALUE, 0x1.fefffep127f, 0x1.ffp127f, Float.MIN_VALUE,
                Float.MIN_NORMAL, 0x1p-133f, 0x1.8p-133f, 0x1p-134f, 1f, -1f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            assertEncodes(x);
        }
        assertTrue(Float.isNaN(Bf16.toFloat(Bf16.encode(Float.NaN))));
        assertEquals(0, Bf16.encode(-0f));
    }

    private static void assertEncodes(float x) {
        short want = Bf16.fromFloat(x);
        short got = Bf16.encode(x);
        if (got != want) {
            fail("encode(" + x + " = 0x" + Integer.toHexString(Float.floatToRawIntBits(x)) + ") is "
                    + Integer.toHexString(got & 0xffff) + ", fromFloat gives " + Integer.toHexString(want & 0xffff));
        }
    }

    @Test
    void everyBf16ValueSurvivesWideningAndNarrowing() {
        for (int b = 0; b < 0x10000; b++) {
            float f = Bf16.toFloat((short) b);
            if (Float.isNaN(f)) continue;
            assertEquals(b, Bf16.fromFloat(f) & 0xffff, "bf16 bits " + Integer.toHexString(b));
        }
    }

    @ParameterizedTest(name = "rows={0} k={1}")
    @CsvSource({"1,1", "3,31", "2,32", "5,33", "4,70", "3,96"})
    void int8ErrsByAtMostHalfAStepAndUsesTheFullRange(int rows, int k) {
        SplittableRandom r = Check.rng("int8.quantise", rows, k);
        float[] w = Check.randn(r, rows * k, 0.02);
        int g = Int8Groups.groups(k);
        byte[] q = new byte[rows * k];
        float[] s = new float[rows * g];
        Int8Groups.quantise(w, rows, k, q, s);
        float[] d = new float[rows * k];
        Int8Groups.dequantise(q, s, rows, k, d);
        for (int row = 0; row < rows; row++) {
            for (int gi = 0; gi < g; gi++) {
                int max = 0;
                float scale = s[row * g + gi];
                for (int i = gi * Int8Groups.GROUP; i < Math.min(k, (gi + 1) * Int8Groups.GROUP); i++) {
                    int at = row * k + i;
                    max = Math.max(max, Math.abs(q[at]));
                    double err = Math.abs((double) d[at] - w[at]);
                    if (!(err <= 0.5 * scale * (1 + 1e-6) + 1e-12)) {
                        fail("weight " + at + ": " + w[at] + " dequantised to " + d[at] + " with scale " + scale);
                    }
                }
                assertEquals(127, max, "group " + gi + " of row " + row + " must reach +-127");
            }
        }
    }

    @Test
    void int8OfDequantisedWeightsGivesTheSameCodesAndZeroGroupsStayZero() {
        SplittableRandom r = Check.rng("int8.roundtrip");
        int rows = 7;
        int k = 77;
        float[] w = Check.randn(r, rows * k, 0.05);
        for (int i = 0; i < Int8Groups.GROUP; i++) w[k + i] = 0f; // row 1, group 0: all zero
        int g = Int8Groups.groups(k);
        byte[] q = new byte[rows * k];
        float[] s = new float[rows * g];
        Int8Groups.quantise(w, rows, k, q, s);
        assertEquals(0f, s[g]);
        float[] d = new float[rows * k];
        Int8Groups.dequantise(q, s, rows, k, d);
        byte[] q2 = new byte[rows * k];
        float[] s2 = new float[rows * g];
        Int8Groups.quantise(d, rows, k, q2, s2);
        for (int i = 0; i < q.length; i++) assertEquals(q[i], q2[i], "code " + i);
        for (int i = 0; i < s.length; i++) {
            assertTrue(Math.abs(s2[i] - s[i]) <= Math.ulp(s[i]), "scale " + i + ": " + s[i] + " then " + s2[i]);
        }
    }

    @Test
    void int8RefusesNonFiniteWeightsNamingTheTensor() {
        Tensor w = new Tensor("layers.0.attn.o.weight", 2, 40);
        w.data[45] = Float.NaN;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CompactWeight.compress(w, WeightFormat.INT8));
        assertTrue(e.getMessage().contains("layers.0.attn.o.weight"), e.getMessage());
    }

    @Test
    void compactWeightsDequantiseToWhatTheFormatsSay() {
        SplittableRandom r = Check.rng("compact.weight");
        Tensor w = new Tensor("w", 3, 2, 45);
        System.arraycopy(Check.randn(r, w.size()), 0, w.data, 0, w.size());
        CompactWeight b = CompactWeight.compress(w, WeightFormat.BF16);
        float[] bd = b.dequantised();
        for (int i = 0; i < w.size(); i++) assertEquals(Bf16.toFloat(Bf16.fromFloat(w.data[i])), bd[i]);
        assertEquals(2L * w.size(), b.bytes());
        CompactWeight.Int8Weight q = (CompactWeight.Int8Weight) CompactWeight.compress(w, WeightFormat.INT8);
        assertEquals(java.util.List.of(3, 2, 2), java.util.Arrays.stream(q.scale().shape()).boxed().toList());
        assertEquals("w.scale", q.scale().name);
        float[] qd = q.dequantised();
        for (int i = 0; i < w.size(); i++) {
            int row = i / 45;
            assertEquals(q.q().data[i] * q.scale().data[row * 2 + (i % 45) / Int8Groups.GROUP], qd[i]);
        }
        assertEquals(w.size() + 4L * 12, q.bytes());
    }
}
