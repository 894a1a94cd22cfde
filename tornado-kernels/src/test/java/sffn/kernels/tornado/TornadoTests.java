package sffn.kernels.tornado;

import org.junit.jupiter.api.Assumptions;
import sffn.kernels.backend.Backends;

/** Support for the tests that need TornadoVM: they run under scripts/test-tornado and skip elsewhere, saying why. */
public final class TornadoTests {
    private TornadoTests() {
    }

    /** Skips the calling test unless this JVM runs under TornadoVM with a device. */
    public static void assumeTornado() {
        String why = Backends.tornadoUnavailableReason();
        Assumptions.assumeTrue(why == null, () -> why + " (TornadoVM tests run with scripts/test-tornado)");
    }

    /** Device for the tests: {@code -Dsffn.tornado.device=<backend>:<device>}, TornadoVM's default otherwise. */
    public static String device() {
        return System.getProperty("sffn.tornado.device");
    }

    /** Max-norm error of {@code got} against {@code ref} over max |ref| (0 when both are zero); NaN when any element is not finite in one but not the other. */
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

    public static double maxAbsError(float[] got, float[] ref) {
        double err = 0;
        for (int i = 0; i < ref.length; i++) {
            if (Float.isNaN(got[i]) || Float.isNaN(ref[i])) return Double.NaN;
            err = Math.max(err, Math.abs((double) got[i] - ref[i]));
        }
        return err;
    }
}
