package sffn.kernels.cpu;

/**
 * A kernel's per-thread float buffer, grown to the largest size asked of it and kept: scratch is
 * allocated once per thread, not per call. Kept per thread, not shared, so that no two threads
 * write one cache line (see DotGemm's SUMS).
 */
public final class Scratch {
    private final ThreadLocal<float[]> buffer = ThreadLocal.withInitial(() -> new float[0]);
    private final int slack;

    public Scratch() {
        this(0);
    }

    /** @param slack floats allocated past the size asked: the next object then starts past the last line written */
    public Scratch(int slack) {
        this.slack = slack;
    }

    /** The calling thread's buffer: at least {@code size} floats, contents left from its last use. */
    public float[] get(int size) {
        float[] b = buffer.get();
        if (b.length < size) {
            b = new float[size + slack];
            buffer.set(b);
        }
        return b;
    }
}
