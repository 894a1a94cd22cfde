package sffn.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * The cache-blocked GEMM path: {@code C[M,N] (+)= op(A) . op(B)} with B packed into panels of
 * {@link #NR} columns and a register-blocked {@code 6 x NR} micro-kernel.
 *
 * <p>Loop nest of one work item (a block of C rows x at most {@link #NC} columns):
 * <pre>
 *   for each K block (kc <= KC):            pack B[kblock, cols] into NR-column panels (in L2)
 *     for each 6 rows of A (read in place, or a 48-row transposed pack when transA):  (in L1)
 *       for each panel:  C[6, NR] (+)= A[6, kc] . panel[kc, NR]
 * </pre>
 * Each element of C is owned by one work item and summed in the same order whatever the split:
 * per K block, a fused multiply-add chain over k in order starting from zero, then added to C
 * (or stored, for the first block when not accumulating). Row and column edges compute the
 * same chains (out-of-range rows repeat a valid row, out-of-range columns see zero padding) and
 * are simply not stored, so results are independent of the thread count and the work split.
 */
final class PackedGemm {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Vectors per micro-tile row: three need 18 accumulators, which only 32-register ISAs hold. */
    private static final int NV = L >= 16 ? 3 : 2;
    static final int MR = 6;
    static final int NR = NV * L;
    /** K block: a 6 x KC slice of A stays in L1 while the KC x NC block of B streams from L2. */
    static final int KC = Integer.getInteger("tkc", 384);
    /** Columns per work item, a multiple of NR. */
    static final int NC = NR * Math.max(1, Integer.getInteger("tnc", 384) / NR);
    /** Rows of A packed at once when A is transposed. */
    private static final int AR = 48;

    private static final ThreadLocal<Buffers> BUFFERS = ThreadLocal.withInitial(Buffers::new);

    private static final class Buffers {
        final float[] bp = new float[KC * NC];
        final float[] ap = new float[AR * KC];
        final float[] tile = new float[MR * NR];
    }

    private PackedGemm() {
    }

    /** K blocks of near-equal size, at most KC each; a function of k alone. */
    static int kBlock(int k) {
        int blocks = (k + KC - 1) / KC;
        return (k + blocks - 1) / blocks;
    }

    static void gemm(boolean transA, boolean transB, int m, int n, int k,
                     float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                     float[] c, int cOff, int ldc, boolean accumulate, boolean parallel) {
        int colBlocks = (n + NC - 1) / NC;
        int threads = parallel ? Workers.pool().threads() : 1;
        int rowBlocks = 1;
        if (threads > 1) {
            // About eight items per thread for balance, but no row block under 96 rows.
            int want = (Integer.getInteger("titems", 8) * threads + colBlocks - 1) / colBlocks;
            rowBlocks = Math.max(1, Math.min(want, m / 96));
        }
        int mc = roundUp((m + rowBlocks - 1) / rowBlocks, MR);
        int rb = (m + mc - 1) / mc;
        int items = rb * colBlocks;
        if (items == 1 || !parallel) {
            for (int it = 0; it < items; it++) {
                int i0 = (it / colBlocks) * mc;
                int j0 = (it % colBlocks) * NC;
                block(transA, transB, i0, Math.min(m, i0 + mc), j0, Math.min(n, j0 + NC), k,
                        a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate);
            }
            return;
        }
        Workers.pool().parallelFor(items, 1, (from, to) -> {
            for (int it = from; it < to; it++) {
                int i0 = (it / colBlocks) * mc;
                int j0 = (it % colBlocks) * NC;
                block(transA, transB, i0, Math.min(m, i0 + mc), j0, Math.min(n, j0 + NC), k,
                        a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate);
            }
        });
    }

    private static int roundUp(int x, int to) {
        return (x + to - 1) / to * to;
    }

    /** C[i0:i1, j0:j1] over all of K, on the calling thread; j1 - j0 <= NC. */
    static void block(boolean transA, boolean transB, int i0, int i1, int j0, int j1, int k,
                      float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                      float[] c, int cOff, int ldc, boolean accumulate) {
        Buffers buf = BUFFERS.get();
        float[] bp = buf.bp;
        float[] ap = buf.ap;
        float[] tile = buf.tile;
        int width = j1 - j0;
        int panels = (width + NR - 1) / NR;
        int kb = kBlock(k);
        for (int k0 = 0; k0 < k; k0 += kb) {
            int kc = Math.min(kb, k - k0);
            for (int p = 0; p < panels; p++) {
                int cols = Math.min(NR, width - p * NR);
                packB(transB, b, bOff, ldb, k0, kc, j0 + p * NR, cols, bp, p * kc * NR);
            }
            boolean addC = accumulate || k0 > 0;
            if (!transA) {
                for (int i = i0; i < i1; i += MR) {
                    int rows = Math.min(MR, i1 - i);
                    int ao = aOff + i * lda + k0;
                    for (int p = 0; p < panels; p++) {
                        kernel(kc, a, ao, lda, rows, bp, p * kc * NR,
                                c, cOff + i * ldc + j0 + p * NR, ldc, Math.min(NR, width - p * NR), addC, tile);
                    }
                }
            } else {
                for (int ia = i0; ia < i1; ia += AR) {
                    int ra = Math.min(AR, i1 - ia);
                    // ap[r*kc + kk] = op(A)[ia + r, k0 + kk] = A[(k0 + kk)*lda + ia + r]
                    Transpose.transpose(a, aOff + k0 * lda + ia, lda, ra, kc, ap, 0, kc, ra, kc);
                    for (int i = 0; i < ra; i += MR) {
                        int rows = Math.min(MR, ra - i);
                        for (int p = 0; p < panels; p++) {
                            kernel(kc, ap, i * kc, kc, rows, bp, p * kc * NR,
                                    c, cOff + (ia + i) * ldc + j0 + p * NR, ldc, Math.min(NR, width - p * NR), addC, tile);
                        }
                    }
                }
            }
        }
    }

    /** panel[kk*NR + jj] = op(B)[k0 + kk, j0 + jj] for jj < cols, zero for cols <= jj < NR. */
    private static void packB(boolean transB, float[] b, int bOff, int ldb, int k0, int kc, int j0, int cols,
                              float[] bp, int po) {
        if (transB) {
            // op(B)[kk, jj] = B[(j0 + jj)*ldb + k0 + kk]: a transpose.
            Transpose.transpose(b, bOff + j0 * ldb + k0, ldb, kc, cols, bp, po, NR, kc, NR);
            return;
        }
        int src = bOff + k0 * ldb + j0;
        if (cols == NR) {
            for (int kk = 0; kk < kc; kk++) {
                int s = src + kk * ldb;
                int d = po + kk * NR;
                for (int v = 0; v < NR; v += L) FloatVector.fromArray(S, b, s + v).intoArray(bp, d + v);
            }
        } else {
            for (int kk = 0; kk < kc; kk++) {
                int s = src + kk * ldb;
                int d = po + kk * NR;
                for (int v = 0; v < NR; v += L) {
                    FloatVector.fromArray(S, b, s + v, S.indexInRange(v, cols)).intoArray(bp, d + v);
                }
            }
        }
    }

    /**
     * {@code C[rows, cols] (+)= A[rows, kc] . panel[kc, NR]} with A rows at {@code a[aOff + r*lda + kk]}
     * and C at {@code c[co + r*ldc + j]}; rows <= 6, cols <= NR.
     */
    static void kernel(int kc, float[] a, int aOff, int lda, int rows, float[] bp, int bo,
                       float[] c, int co, int ldc, int cols, boolean addC, float[] tile) {
        // A narrow last panel (N mod NR, e.g. 16 of a 64-wide head) skips its zero padding.
        if (cols > 2 * L) {
            kernel6x3(kc, a, aOff, lda, rows, bp, bo, c, co, ldc, cols, addC, tile);
        } else if (cols > L) {
            kernel6x2(kc, a, aOff, lda, rows, bp, bo, c, co, ldc, cols, addC, tile);
        } else {
            kernel6x1(kc, a, aOff, lda, rows, bp, bo, c, co, ldc, cols, addC, tile);
        }
    }

    /*
     * The micro-kernels spill their accumulators to a small tile and leave the C update to
     * update(): a helper taking vectors as arguments would box them whenever the JIT declines
     * to inline it, which costs more than the whole tile.
     */


    private static void kernel6x3(int kc, float[] a, int aOff, int lda, int rows, float[] bp, int bo,
                                  float[] c, int co, int ldc, int cols, boolean addC, float[] tile) {
        int ar0 = aOff;
        int ar1 = aOff + Math.min(1, rows - 1) * lda;
        int ar2 = aOff + Math.min(2, rows - 1) * lda;
        int ar3 = aOff + Math.min(3, rows - 1) * lda;
        int ar4 = aOff + Math.min(4, rows - 1) * lda;
        int ar5 = aOff + Math.min(5, rows - 1) * lda;
        FloatVector c00 = FloatVector.zero(S);
        FloatVector c01 = FloatVector.zero(S);
        FloatVector c02 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S);
        FloatVector c11 = FloatVector.zero(S);
        FloatVector c12 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S);
        FloatVector c21 = FloatVector.zero(S);
        FloatVector c22 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S);
        FloatVector c31 = FloatVector.zero(S);
        FloatVector c32 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S);
        FloatVector c41 = FloatVector.zero(S);
        FloatVector c42 = FloatVector.zero(S);
        FloatVector c50 = FloatVector.zero(S);
        FloatVector c51 = FloatVector.zero(S);
        FloatVector c52 = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            int bk = bo + k * NR;
            FloatVector b0 = FloatVector.fromArray(S, bp, bk);
            FloatVector b1 = FloatVector.fromArray(S, bp, bk + 1 * L);
            FloatVector b2 = FloatVector.fromArray(S, bp, bk + 2 * L);
            FloatVector x0 = FloatVector.broadcast(S, a[ar0 + k]);
            c00 = b0.fma(x0, c00);
            c01 = b1.fma(x0, c01);
            c02 = b2.fma(x0, c02);
            FloatVector x1 = FloatVector.broadcast(S, a[ar1 + k]);
            c10 = b0.fma(x1, c10);
            c11 = b1.fma(x1, c11);
            c12 = b2.fma(x1, c12);
            FloatVector x2 = FloatVector.broadcast(S, a[ar2 + k]);
            c20 = b0.fma(x2, c20);
            c21 = b1.fma(x2, c21);
            c22 = b2.fma(x2, c22);
            FloatVector x3 = FloatVector.broadcast(S, a[ar3 + k]);
            c30 = b0.fma(x3, c30);
            c31 = b1.fma(x3, c31);
            c32 = b2.fma(x3, c32);
            FloatVector x4 = FloatVector.broadcast(S, a[ar4 + k]);
            c40 = b0.fma(x4, c40);
            c41 = b1.fma(x4, c41);
            c42 = b2.fma(x4, c42);
            FloatVector x5 = FloatVector.broadcast(S, a[ar5 + k]);
            c50 = b0.fma(x5, c50);
            c51 = b1.fma(x5, c51);
            c52 = b2.fma(x5, c52);
        }
        c00.intoArray(tile, 0 * NR);
        c01.intoArray(tile, 0 * NR + 1 * L);
        c02.intoArray(tile, 0 * NR + 2 * L);
        c10.intoArray(tile, 1 * NR);
        c11.intoArray(tile, 1 * NR + 1 * L);
        c12.intoArray(tile, 1 * NR + 2 * L);
        c20.intoArray(tile, 2 * NR);
        c21.intoArray(tile, 2 * NR + 1 * L);
        c22.intoArray(tile, 2 * NR + 2 * L);
        c30.intoArray(tile, 3 * NR);
        c31.intoArray(tile, 3 * NR + 1 * L);
        c32.intoArray(tile, 3 * NR + 2 * L);
        c40.intoArray(tile, 4 * NR);
        c41.intoArray(tile, 4 * NR + 1 * L);
        c42.intoArray(tile, 4 * NR + 2 * L);
        c50.intoArray(tile, 5 * NR);
        c51.intoArray(tile, 5 * NR + 1 * L);
        c52.intoArray(tile, 5 * NR + 2 * L);
        update(tile, rows, cols, c, co, ldc, addC);
    }

    private static void kernel6x2(int kc, float[] a, int aOff, int lda, int rows, float[] bp, int bo,
                                  float[] c, int co, int ldc, int cols, boolean addC, float[] tile) {
        int ar0 = aOff;
        int ar1 = aOff + Math.min(1, rows - 1) * lda;
        int ar2 = aOff + Math.min(2, rows - 1) * lda;
        int ar3 = aOff + Math.min(3, rows - 1) * lda;
        int ar4 = aOff + Math.min(4, rows - 1) * lda;
        int ar5 = aOff + Math.min(5, rows - 1) * lda;
        FloatVector c00 = FloatVector.zero(S);
        FloatVector c01 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S);
        FloatVector c11 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S);
        FloatVector c21 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S);
        FloatVector c31 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S);
        FloatVector c41 = FloatVector.zero(S);
        FloatVector c50 = FloatVector.zero(S);
        FloatVector c51 = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            int bk = bo + k * NR;
            FloatVector b0 = FloatVector.fromArray(S, bp, bk);
            FloatVector b1 = FloatVector.fromArray(S, bp, bk + 1 * L);
            FloatVector x0 = FloatVector.broadcast(S, a[ar0 + k]);
            c00 = b0.fma(x0, c00);
            c01 = b1.fma(x0, c01);
            FloatVector x1 = FloatVector.broadcast(S, a[ar1 + k]);
            c10 = b0.fma(x1, c10);
            c11 = b1.fma(x1, c11);
            FloatVector x2 = FloatVector.broadcast(S, a[ar2 + k]);
            c20 = b0.fma(x2, c20);
            c21 = b1.fma(x2, c21);
            FloatVector x3 = FloatVector.broadcast(S, a[ar3 + k]);
            c30 = b0.fma(x3, c30);
            c31 = b1.fma(x3, c31);
            FloatVector x4 = FloatVector.broadcast(S, a[ar4 + k]);
            c40 = b0.fma(x4, c40);
            c41 = b1.fma(x4, c41);
            FloatVector x5 = FloatVector.broadcast(S, a[ar5 + k]);
            c50 = b0.fma(x5, c50);
            c51 = b1.fma(x5, c51);
        }
        c00.intoArray(tile, 0 * NR);
        c01.intoArray(tile, 0 * NR + 1 * L);
        c10.intoArray(tile, 1 * NR);
        c11.intoArray(tile, 1 * NR + 1 * L);
        c20.intoArray(tile, 2 * NR);
        c21.intoArray(tile, 2 * NR + 1 * L);
        c30.intoArray(tile, 3 * NR);
        c31.intoArray(tile, 3 * NR + 1 * L);
        c40.intoArray(tile, 4 * NR);
        c41.intoArray(tile, 4 * NR + 1 * L);
        c50.intoArray(tile, 5 * NR);
        c51.intoArray(tile, 5 * NR + 1 * L);
        update(tile, rows, cols, c, co, ldc, addC);
    }
    private static void kernel6x1(int kc, float[] a, int aOff, int lda, int rows, float[] bp, int bo,
                                  float[] c, int co, int ldc, int cols, boolean addC, float[] tile) {
        int ar0 = aOff;
        int ar1 = aOff + Math.min(1, rows - 1) * lda;
        int ar2 = aOff + Math.min(2, rows - 1) * lda;
        int ar3 = aOff + Math.min(3, rows - 1) * lda;
        int ar4 = aOff + Math.min(4, rows - 1) * lda;
        int ar5 = aOff + Math.min(5, rows - 1) * lda;
        FloatVector c00 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S);
        FloatVector c50 = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            int bk = bo + k * NR;
            FloatVector b0 = FloatVector.fromArray(S, bp, bk);
            FloatVector x0 = FloatVector.broadcast(S, a[ar0 + k]);
            c00 = b0.fma(x0, c00);
            FloatVector x1 = FloatVector.broadcast(S, a[ar1 + k]);
            c10 = b0.fma(x1, c10);
            FloatVector x2 = FloatVector.broadcast(S, a[ar2 + k]);
            c20 = b0.fma(x2, c20);
            FloatVector x3 = FloatVector.broadcast(S, a[ar3 + k]);
            c30 = b0.fma(x3, c30);
            FloatVector x4 = FloatVector.broadcast(S, a[ar4 + k]);
            c40 = b0.fma(x4, c40);
            FloatVector x5 = FloatVector.broadcast(S, a[ar5 + k]);
            c50 = b0.fma(x5, c50);
        }
        c00.intoArray(tile, 0 * NR);
        c10.intoArray(tile, 1 * NR);
        c20.intoArray(tile, 2 * NR);
        c30.intoArray(tile, 3 * NR);
        c40.intoArray(tile, 4 * NR);
        c50.intoArray(tile, 5 * NR);
        update(tile, rows, cols, c, co, ldc, addC);
    }

    /** {@code C[r, j] = (addC ? C[r, j] : 0) + tile[r*NR + j]} for r < rows, j < cols. */
    private static void update(float[] tile, int rows, int cols, float[] c, int co, int ldc, boolean addC) {
        for (int r = 0; r < rows; r++) {
            int o = co + r * ldc;
            int t = r * NR;
            int j = 0;
            for (; j <= cols - L; j += L) {
                FloatVector v = FloatVector.fromArray(S, tile, t + j);
                if (addC) v = FloatVector.fromArray(S, c, o + j).add(v);
                v.intoArray(c, o + j);
            }
            if (j < cols) {
                VectorMask<Float> m = S.indexInRange(j, cols);
                FloatVector v = FloatVector.fromArray(S, tile, t + j);
                if (addC) v = FloatVector.fromArray(S, c, o + j, m).add(v);
                v.intoArray(c, o + j, m);
            }
        }
    }
}
