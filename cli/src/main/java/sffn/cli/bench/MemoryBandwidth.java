package sffn.cli.bench;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import sffn.kernels.backend.Timing;
import sffn.kernels.cpu.Vec;
import sffn.kernels.cpu.Workers;

/**
 * Read bandwidth of main memory as the CPU bodies see it: all worker threads summing a buffer
 * far larger than the caches, with the same Vector API loads the kernels use. One probe keeps
 * its buffer, so that a benchmark can take passes between its own timed steps: on a shared host
 * the bandwidth drifts, and a limit computed from passes taken minutes earlier drifts with it.
 */
final class MemoryBandwidth {
    private final float[] a;
    private final int chunks;
    private final int chunk;
    private final float[] sink;
    private final Runnable pass;

    /** A probe over {@code megabytes} of floats, its loop compiled by a warm-up. */
    MemoryBandwidth(int megabytes) {
        int n = megabytes * (1 << 20) / 4;
        a = new float[n];
        Arrays.fill(a, 1f);
        chunks = Workers.pool().threads() * 16;
        chunk = (n / chunks) / (4 * Vec.L) * (4 * Vec.L);
        sink = new float[chunks];
        // Each chunk read as four streams side by side (its quarters), as the decoding matvecs
        // read their rows: one stream per thread reads slower on some hosts.
        int quarter = chunk / 4;
        pass = () -> Workers.pool().parallelFor(chunks, 1, (from, to) -> {
            for (int c = from; c < to; c++) {
                FloatVector acc0 = FloatVector.zero(Vec.S);
                FloatVector acc1 = FloatVector.zero(Vec.S);
                FloatVector acc2 = FloatVector.zero(Vec.S);
                FloatVector acc3 = FloatVector.zero(Vec.S);
                int start = c * chunk;
                for (int i = start; i < start + quarter; i += Vec.L) {
                    acc0 = acc0.add(FloatVector.fromArray(Vec.S, a, i));
                    acc1 = acc1.add(FloatVector.fromArray(Vec.S, a, i + quarter));
                    acc2 = acc2.add(FloatVector.fromArray(Vec.S, a, i + 2 * quarter));
                    acc3 = acc3.add(FloatVector.fromArray(Vec.S, a, i + 3 * quarter));
                }
                sink[c] = Vec.sumLanes(acc0.add(acc1).add(acc2.add(acc3)));
            }
        });
        Timing.warmUp(pass, 1000, 10000);
    }

    /** GB/s (1e9 bytes per second) of one pass over the buffer. */
    double pass() {
        long t0 = System.nanoTime();
        pass.run();
        double s = (System.nanoTime() - t0) / 1e9;
        if (sink[0] != chunk) throw new IllegalStateException("bandwidth probe summed " + sink[0] + ", expected " + chunk);
        return 4.0 * chunk * chunks / s / 1e9;
    }

    /** Median GB/s of {@code passes} passes. */
    double median(int passes) {
        double[] gbs = new double[passes];
        for (int i = 0; i < passes; i++) gbs[i] = pass();
        Arrays.sort(gbs);
        return gbs[passes / 2];
    }
}
