package sffn.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Blocked out-of-place transpose with zero fill, used to pack GEMM operands:
 * {@code dst[dstOff + x*dstLd + y] = (x < validX && y < validY) ? src[srcOff + y*srcLd + x] : 0}
 * for {@code x < rowsX}, {@code y < colsY}. The source is read along x (its contiguous
 * direction) and the destination written along y.
 *
 * <p>With 16-lane vectors it works in 16 x 16 tiles transposed in registers by four butterfly
 * stages; stage s swaps the off-diagonal halves of the 2^s-blocks with one lane permutation and
 * one blend per vector (element (i, j) with bit s of j set trades places with (i + 2^s, j - 2^s)).
 * That is several times faster than gathers or scalar copies, which matters because a
 * transposed operand is packed once per cache block. The stages act on different bits of the
 * row index and commute, so stages 0 and 1 run on groups of 4 adjacent rows and stages 2 and 3
 * on groups of rows 4 apart, through a small scratch tile: each step is a small method that
 * every JIT tier compiles (C1 gives up on one method holding all 16 vectors, and the interpreter
 * runs vector code a hundred times slower). Other vector widths take a scalar loop.
 */
final class Transpose {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_512;
    private static final boolean VECTOR = FloatVector.SPECIES_PREFERRED.length() >= 16;

    private static final VectorShuffle<Float> DOWN0 = shuffle(0, true);
    private static final VectorShuffle<Float> UP0 = shuffle(0, false);
    private static final VectorMask<Float> HIGH0 = mask(0, true);
    private static final VectorMask<Float> LOW0 = mask(0, false);
    private static final VectorShuffle<Float> DOWN1 = shuffle(1, true);
    private static final VectorShuffle<Float> UP1 = shuffle(1, false);
    private static final VectorMask<Float> HIGH1 = mask(1, true);
    private static final VectorMask<Float> LOW1 = mask(1, false);
    private static final VectorShuffle<Float> DOWN2 = shuffle(2, true);
    private static final VectorShuffle<Float> UP2 = shuffle(2, false);
    private static final VectorMask<Float> HIGH2 = mask(2, true);
    private static final VectorMask<Float> LOW2 = mask(2, false);
    private static final VectorShuffle<Float> DOWN3 = shuffle(3, true);
    private static final VectorShuffle<Float> UP3 = shuffle(3, false);
    private static final VectorMask<Float> HIGH3 = mask(3, true);
    private static final VectorMask<Float> LOW3 = mask(3, false);
    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[256]);

    private Transpose() {
    }

    /** DOWN moves lane j - 2^s into each lane j with bit s set; UP moves lane j + 2^s into the others. */
    private static VectorShuffle<Float> shuffle(int s, boolean down) {
        int d = 1 << s;
        int[] idx = new int[16];
        for (int j = 0; j < 16; j++) {
            boolean high = (j & d) != 0;
            idx[j] = down ? (high ? j - d : j) : (high ? j : j + d);
        }
        return VectorShuffle.fromArray(S, idx, 0);
    }

    private static VectorMask<Float> mask(int s, boolean high) {
        boolean[] bits = new boolean[16];
        for (int j = 0; j < 16; j++) bits[j] = ((j & (1 << s)) != 0) == high;
        return VectorMask.fromArray(S, bits, 0);
    }

    static void transpose(float[] src, int srcOff, int srcLd, int validX, int validY,
                          float[] dst, int dstOff, int dstLd, int rowsX, int colsY) {
        if (!VECTOR) {
            for (int x = 0; x < rowsX; x++) {
                for (int y = 0; y < colsY; y++) {
                    dst[dstOff + x * dstLd + y] = x < validX && y < validY ? src[srcOff + y * srcLd + x] : 0f;
                }
            }
            return;
        }
        float[] t = SCRATCH.get();
        for (int y0 = 0; y0 < colsY; y0 += 16) {
            int ny = Math.min(16, colsY - y0);
            int vy = Math.min(16, validY - y0);
            for (int x0 = 0; x0 < rowsX; x0 += 16) {
                int vx = Math.min(16, validX - x0);
                int nx = Math.min(16, rowsX - x0);
                int so = srcOff + y0 * srcLd + x0;
                for (int g = 0; g < 16; g += 4) low(src, so + g * srcLd, srcLd, g, vx, vy, t);
                int d = dstOff + x0 * dstLd + y0;
                for (int g = 0; g < 4; g++) high(t, g, dst, d + g * dstLd, dstLd, nx, ny);
            }
        }
    }

    /**
     * Stages 0 and 1 on source rows g .. g+3 (rows at or past vy, lanes at or past vx read as
     * zero), into scratch rows g .. g+3.
     */
    private static void low(float[] src, int so, int sld, int g, int vx, int vy, float[] t) {
        VectorMask<Float> m = S.indexInRange(0, Math.max(0, vx));
        FloatVector zero = FloatVector.zero(S);
        boolean full = vx >= 16;
        FloatVector r0 = g + 0 >= vy ? zero : full ? FloatVector.fromArray(S, src, so + 0 * sld) : FloatVector.fromArray(S, src, so + 0 * sld, m);
        FloatVector r1 = g + 1 >= vy ? zero : full ? FloatVector.fromArray(S, src, so + 1 * sld) : FloatVector.fromArray(S, src, so + 1 * sld, m);
        FloatVector r2 = g + 2 >= vy ? zero : full ? FloatVector.fromArray(S, src, so + 2 * sld) : FloatVector.fromArray(S, src, so + 2 * sld, m);
        FloatVector r3 = g + 3 >= vy ? zero : full ? FloatVector.fromArray(S, src, so + 3 * sld) : FloatVector.fromArray(S, src, so + 3 * sld, m);
        FloatVector u;
        u = r0.blend(r1.rearrange(DOWN0), HIGH0);
        r1 = r1.blend(r0.rearrange(UP0), LOW0);
        r0 = u;
        u = r2.blend(r3.rearrange(DOWN0), HIGH0);
        r3 = r3.blend(r2.rearrange(UP0), LOW0);
        r2 = u;
        u = r0.blend(r2.rearrange(DOWN1), HIGH1);
        r2 = r2.blend(r0.rearrange(UP1), LOW1);
        r0 = u;
        u = r1.blend(r3.rearrange(DOWN1), HIGH1);
        r3 = r3.blend(r1.rearrange(UP1), LOW1);
        r1 = u;
        r0.intoArray(t, (g + 0) * 16);
        r1.intoArray(t, (g + 1) * 16);
        r2.intoArray(t, (g + 2) * 16);
        r3.intoArray(t, (g + 3) * 16);
    }

    /**
     * Stages 2 and 3 on scratch rows g, g+4, g+8, g+12, stored as destination rows g .. (those
     * below nx), each the first ny lanes; the destination rows are dld apart.
     */
    private static void high(float[] t, int g, float[] dst, int d, int dld, int nx, int ny) {
        FloatVector r0 = FloatVector.fromArray(S, t, (g + 0) * 16);
        FloatVector r1 = FloatVector.fromArray(S, t, (g + 4) * 16);
        FloatVector r2 = FloatVector.fromArray(S, t, (g + 8) * 16);
        FloatVector r3 = FloatVector.fromArray(S, t, (g + 12) * 16);
        FloatVector u;
        u = r0.blend(r1.rearrange(DOWN2), HIGH2);
        r1 = r1.blend(r0.rearrange(UP2), LOW2);
        r0 = u;
        u = r2.blend(r3.rearrange(DOWN2), HIGH2);
        r3 = r3.blend(r2.rearrange(UP2), LOW2);
        r2 = u;
        u = r0.blend(r2.rearrange(DOWN3), HIGH3);
        r2 = r2.blend(r0.rearrange(UP3), LOW3);
        r0 = u;
        u = r1.blend(r3.rearrange(DOWN3), HIGH3);
        r3 = r3.blend(r1.rearrange(UP3), LOW3);
        r1 = u;
        if (ny == 16) {
            if (g + 0 < nx) r0.intoArray(dst, d + 0 * dld);
            if (g + 4 < nx) r1.intoArray(dst, d + 4 * dld);
            if (g + 8 < nx) r2.intoArray(dst, d + 8 * dld);
            if (g + 12 < nx) r3.intoArray(dst, d + 12 * dld);
        } else {
            VectorMask<Float> m = S.indexInRange(0, ny);
            if (g + 0 < nx) r0.intoArray(dst, d + 0 * dld, m);
            if (g + 4 < nx) r1.intoArray(dst, d + 4 * dld, m);
            if (g + 8 < nx) r2.intoArray(dst, d + 8 * dld, m);
            if (g + 12 < nx) r3.intoArray(dst, d + 12 * dld, m);
        }
    }
}
