package sffn.kernels;

import uk.ac.manchester.tornado.api.KernelContext;

/**
 * Work-group shapes of the KernelContext variants (the GPU bodies with local memory). They are
 * compile-time constants because a local array's size must be one; the TornadoVM backend builds
 * its grids from the same values.
 */
public final class WorkGroups {
    /** Side of the square output tile a work-group of the tiled matmuls computes (TILE x TILE work-items). */
    public static final int TILE = 16;
    /** Work-items that reduce one row together in the row kernels (norms, cross-entropy); a power of two. */
    public static final int ROW = 128;

    private WorkGroups() {
    }

    /**
     * The sum of {@code value} over the work-group's {@link #ROW} items, returned to every item:
     * a tree in the local array {@code part} (ROW floats). Ends with a barrier, so the next
     * reduction may reuse {@code part} at once.
     */
    public static float sumRow(KernelContext ctx, float[] part, float value) {
        int l = ctx.localIdx;
        part[l] = value;
        for (int stride = ROW / 2; stride > 0; stride /= 2) {
            ctx.localBarrier();
            if (l < stride) {
                part[l] += part[l + stride];
            }
        }
        ctx.localBarrier();
        float total = part[0];
        ctx.localBarrier();
        return total;
    }

    /** As {@link #sumRow}, the maximum. */
    public static float maxRow(KernelContext ctx, float[] part, float value) {
        int l = ctx.localIdx;
        part[l] = value;
        for (int stride = ROW / 2; stride > 0; stride /= 2) {
            ctx.localBarrier();
            if (l < stride) {
                part[l] = Math.max(part[l], part[l + stride]);
            }
        }
        ctx.localBarrier();
        float total = part[0];
        ctx.localBarrier();
        return total;
    }

    /** {@code n} rounded up to a multiple of {@code m}: a global size covering n items in whole work-groups. */
    public static int roundUp(int n, int m) {
        return (n + m - 1) / m * m;
    }
}
