package sffn.kernels;

/**
 * Symmetric int8 quantisation in groups of {@link #GROUP} consecutive weights along a row (the
 * input dimension of an [out, in] weight), as llama.cpp's Q8_0 and llama2.c's runq: per group,
 * {@code scale = max|w| / 127} and {@code q = round(w / scale)} in [-127, 127], so
 * {@code w ~ q * scale}. A row of {@code k} weights has {@code ceil(k / GROUP)} groups; the last
 * one is short when {@code GROUP} does not divide k. Scales are [rows, ceil(k / GROUP)]. The
 * dequantised weight is the float32 product {@code q * scale}, which is what every kernel uses.
 */
public final class Int8Groups {
    /** Weights per scale. */
    public static final int GROUP = 32;

    private Int8Groups() {
    }

    /** Groups in a row of {@code k} weights. */
    public static int groups(int k) {
        return (k + GROUP - 1) / GROUP;
    }

    /**
     * Quantises {@code w} [rows, k] into {@code q} [rows, k] and {@code scale} [rows, groups(k)].
     *
     * @throws IllegalArgumentException on a NaN or infinite weight (its index is named)
     */
    public static void quantise(float[] w, int rows, int k, byte[] q, float[] scale) {
        int g = groups(k);
        if (w.length != rows * k || q.length != rows * k || scale.length != rows * g) {
            throw new IllegalArgumentException("int8: sizes do not match [" + rows + ", " + k + "]: weights " + w.length
                    + ", q " + q.length + ", scales " + scale.length);
        }
        for (int r = 0; r < rows; r++) {
            for (int gi = 0; gi < g; gi++) {
                int from = r * k + gi * GROUP;
                int to = Math.min(r * k + k, from + GROUP);
                float max = 0f;
                for (int i = from; i < to; i++) {
                    if (!Float.isFinite(w[i])) {
                        throw new IllegalArgumentException("weight " + i + " is " + w[i] + "; only finite weights quantise");
                    }
                    max = Math.max(max, Math.abs(w[i]));
                }
                float s = max / 127f;
                scale[r * g + gi] = s;
                float inv = s == 0f ? 0f : 1f / s;
                for (int i = from; i < to; i++) {
                    // Half away from zero, as C's roundf; |w| * inv may exceed 127 by a rounding.
                    int v = (int) Math.copySign(Math.floor(Math.abs(w[i] * inv) + 0.5f), w[i]);
                    q[i] = (byte) Math.max(-127, Math.min(127, v));
                }
            }
        }
    }

    /** {@code out[r, i] = q[r, i] * scale[r, i / GROUP]}. */
    public static void dequantise(byte[] q, float[] scale, int rows, int k, float[] out) {
        int g = groups(k);
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < k; i++) out[r * k + i] = q[r * k + i] * scale[r * g + i / GROUP];
        }
    }
}
