package sffn.kernels;

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

    /** {@code n} rounded up to a multiple of {@code m}: a global size covering n items in whole work-groups. */
    public static int roundUp(int n, int m) {
        return (n + m - 1) / m * m;
    }
}
