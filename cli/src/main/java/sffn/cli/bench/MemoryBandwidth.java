package sffn.cli.bench;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import sffn.kernels.backend.Timing;
import sffn.kernels.cpu.Vec;
import sffn.kernels.cpu.Workers;

/**
 * Read bandwidth of main memory as the CPU bodies see it: all worker threads summing a buffer
 * far larger than the caches, with the same Vector API loads the kernels use.
 */
final class MemoryBandwidth {
    private MemoryBandwidth() {
    }

    /** Median GB/s (1e9 bytes per second) over a few passes over {@code megabytes} of floats. */
    static double readGBs(int megabytes) {
        int n = megabytes * (1 << 20) / 4;
        float[] a = new float[n];
        Arrays.fill(a, 1f);
        int chunks = Workers.pool().threads() * 16;
        int chunk = (n / chunks) / Vec.L * Vec.L;
        float[] sink = new float[chunks];
        Runnable pass = () -> Workers.pool().parallelFor(chunks, 1, (from, to) -> {
            for (int c = from; c < to; c++) {
                FloatVector acc0 = FloatVector.zero(Vec.S);
                FloatVector acc1 = FloatVector.zero(Vec.S);
                int end = (c + 1) * chunk;
                for (int i = c * chunk; i < end; i += 2 * Vec.L) {
                    acc0 = acc0.add(FloatVector.fromArray(Vec.S, a, i));
                    acc1 = acc1.add(FloatVector.fromArray(Vec.S, a, i + Vec.L));
                }
                sink[c] = Vec.sumLanes(acc0.add(acc1));
            }
        });
        Timing.warmUp(pass, 1000, 10000);
        double[] gbs = new double[7];
        for (int rep = 0; rep < gbs.length; rep++) {
            long t0 = System.nanoTime();
            pass.run();
            double s = (System.nanoTime() - t0) / 1e9;
            gbs[rep] = 4.0 * chunk * chunks / s / 1e9;
        }
        if (sink[0] != chunk) throw new IllegalStateException("bandwidth probe summed " + sink[0] + ", expected " + chunk);
        Arrays.sort(gbs);
        return gbs[gbs.length / 2];
    }
}
