package sffn.kernels.tornado;

import uk.ac.manchester.tornado.api.annotations.Parallel;

/**
 * Kernels of the backend's plumbing graphs. The owner graphs' touch kernels read element 0 of up
 * to 14 arrays (of one element type) into a sink, which makes TornadoVM allocate the arrays on the device and copy them
 * in; {@link #tick} gives the wiring graphs the one task a graph must have. None computes
 * anything anyone reads.
 */
public final class Touch {
    /** Arrays one touch task takes, leaving one parameter for the sink (a task takes at most 15). */
    static final int WIDTH = 14;

    private Touch() {
    }

    public static void floats(float[] sink, float[] a0, float[] a1, float[] a2, float[] a3, float[] a4, float[] a5, float[] a6,
                       float[] a7, float[] a8, float[] a9, float[] a10, float[] a11, float[] a12, float[] a13) {
        for (@Parallel int i = 0; i < 1; i++) {
            sink[0] = a0[0] + a1[0] + a2[0] + a3[0] + a4[0] + a5[0] + a6[0] + a7[0] + a8[0] + a9[0] + a10[0] + a11[0]
                    + a12[0] + a13[0];
        }
    }

    public static void tick(float[] own) {
        for (@Parallel int i = 0; i < 1; i++) {
            own[0] = own[0] + 1f;
        }
    }

    public static void ints(float[] sink, int[] a0, int[] a1, int[] a2, int[] a3, int[] a4, int[] a5, int[] a6,
                     int[] a7, int[] a8, int[] a9, int[] a10, int[] a11, int[] a12, int[] a13) {
        for (@Parallel int i = 0; i < 1; i++) {
            sink[0] = a0[0] + a1[0] + a2[0] + a3[0] + a4[0] + a5[0] + a6[0] + a7[0] + a8[0] + a9[0] + a10[0] + a11[0]
                    + a12[0] + a13[0];
        }
    }

    public static void shorts(float[] sink, short[] a0, short[] a1, short[] a2, short[] a3, short[] a4, short[] a5,
                              short[] a6, short[] a7, short[] a8, short[] a9, short[] a10, short[] a11, short[] a12,
                              short[] a13) {
        for (@Parallel int i = 0; i < 1; i++) {
            sink[0] = a0[0] + a1[0] + a2[0] + a3[0] + a4[0] + a5[0] + a6[0] + a7[0] + a8[0] + a9[0] + a10[0] + a11[0]
                    + a12[0] + a13[0];
        }
    }

    public static void bytes(float[] sink, byte[] a0, byte[] a1, byte[] a2, byte[] a3, byte[] a4, byte[] a5, byte[] a6,
                             byte[] a7, byte[] a8, byte[] a9, byte[] a10, byte[] a11, byte[] a12, byte[] a13) {
        for (@Parallel int i = 0; i < 1; i++) {
            sink[0] = a0[0] + a1[0] + a2[0] + a3[0] + a4[0] + a5[0] + a6[0] + a7[0] + a8[0] + a9[0] + a10[0] + a11[0]
                    + a12[0] + a13[0];
        }
    }
}
