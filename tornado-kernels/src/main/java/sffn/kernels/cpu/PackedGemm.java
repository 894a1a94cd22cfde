package sffn.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * The cache-blocked GEMM path: {@code C[M,N] (+)= op(A) . op(B)} with B packed into panels of
 * {@link #NR} columns and register-blocked {@code MR x NR} micro-kernels (7 x 48 with AVX-512,
 * 6 x 16 with AVX2).
 *
 * <p>Loop nest of one work item (a block of C rows x at most {@link #NC} columns):
 * <pre>
 *   for each K block (kc <= KC):     pack B[kblock, cols] into NR-column panels        (in L2)
 *     for each MR (7) rows of A:     read in place (row-major A), or copied k-major (transposed A)  (in L1)
 *       for each panel:              C[MR, NR] (+)= A[MR, kc] . panel[kc, NR]
 * </pre>
 * With many rows the two outer loops are taken out of the items ({@link #gemmSharedB}): each
 * block of B is packed once, by all threads, and the items are blocks of rows. The micro-kernels
 * are unrolled by hand (one variable per accumulator): C2 keeps such locals in registers, while
 * an array of vectors would live in memory.
 * A transposed B is packed with in-register 16 x 16 transposes ({@link Transpose}); a transposed
 * A needs none: MR consecutive values of one of its rows are the micro-kernel's MR broadcasts.
 * A transposed A with many rows (a weight gradient, K = tokens) is packed once per K block for
 * all column blocks ({@link #gemmSharedAB}); products whose row and column blocks are too few
 * for the threads, and weight gradients of up to a few million outputs, split their K blocks
 * over the threads instead ({@link #gemmSplitK}), a weight gradient of at most {@link #THIN}
 * columns computed transposed.
 *
 * <p>Each element of C is owned by one work item and summed in the same order whatever the split:
 * per K block (sizes a function of K alone), a fused multiply-add chain over k in order starting
 * from zero, then added to C (or stored, for the first block when not accumulating). Row and
 * column edges compute the same chains (missing rows repeat a valid row or read zero padding,
 * missing columns read zero padding) and are not stored, so results do not depend on the thread
 * count or the work split.
 */
final class PackedGemm {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /**
     * Packing a transposed A copies each k's MR values with one full-width vector (at least MR
     * lanes). Not a narrower species: code shared by two vector shapes gets mixed type profiles,
     * and C2 then boxes the narrow vectors (measured: ~1 GB/s of garbage in training).
     */
    private static final boolean COPY = L >= 8;
    /** 32 vector registers (AVX-512): 7 x 3 vector tiles, 21 accumulators; else 6 x 2, 12 of 16. */
    private static final boolean WIDE = L >= 16;
    private static final int NV = WIDE ? 3 : 2;
    /** Rows per micro-tile: 7 rows (21 fused multiply-adds per k) measured 7% faster than 6. */
    static final int MR = WIDE ? 7 : 6;
    static final int NR = NV * L;
    /**
     * K block: an MR x KC slice of A stays in L1 while the KC x NC block of B (576 KiB) streams
     * from L2. 512 x 288 measured 3 to 20% faster than 384 x 384 at the FFN shapes on one core
     * (most where A's rows are 12 KiB apart and share L1 sets), and no slower elsewhere.
     */
    static final int KC = 512;
    /**
     * K up to which a product is one K block (the width 768 of Transformer-s and GPT-2 small: the
     * Q/K/V, output and fc1 projections, the head, fc2's input gradient): C is then written once
     * instead of twice. On the 2-core Intel VM (2 MiB of L2 per core), 1.4-5.7% faster at those
     * shapes, alternating in one process with two blocks of 384; 768 x 288 of B is 864 KiB.
     */
    static final int ONE_BLOCK = 768;
    /** The largest K block. */
    private static final int KC_MAX = Math.max(KC, ONE_BLOCK);
    /** Columns per work item, a multiple of NR. */
    static final int NC = NR * Math.max(1, 288 / NR);

    /** Micro-panels of a transposed A copied together (56 rows x KC, 112 KiB, or 168 at 768: within L2). */
    private static final int AG = 8;

    private static final ThreadLocal<Buffers> BUFFERS = ThreadLocal.withInitial(Buffers::new);
    /** The calling thread's block of B shared by all threads in {@link #gemmSharedB}. */
    private static final ThreadLocal<float[]> SHARED_B = ThreadLocal.withInitial(() -> new float[KC_MAX * NC]);
    /** Rows per work item of {@link #gemmSharedB}: two groups of AG micro-panels. */
    private static final int ROWS_PER_ITEM = 2 * AG * MR;
    /** The calling thread's partial products in {@link #gemmSplitK}, grown on demand. */
    private static final Scratch SPLIT_PARTS = new Scratch();
    /**
     * Floats of partial products (16 MiB) above which a product keeps the other schedules. Not
     * final: tests lower it to reach those schedules on small shapes (every schedule gives the
     * same bits, so the setting changes speed only).
     */
    static volatile long splitKMax = 1 << 22;
    /** Columns up to which a weight gradient {@code op(A)^T . B} is computed transposed ({@link #gemmSplitK}). */
    static final int THIN = 128;
    /** Rows of C per item of {@link #gemmSplitK}'s transposed additions. */
    private static final int TRANSPOSE_ROWS = 16;
    /** Numbers the calls of {@link #gemmSharedAB}, so that a thread knows its packed B block is current. */
    private static final java.util.concurrent.atomic.AtomicLong CALLS = new java.util.concurrent.atomic.AtomicLong();
    /** The calling thread's packed rows of a transposed A in {@link #gemmSharedAB}, grown on demand. */
    private static final Scratch SHARED_A = new Scratch();
    /**
     * Rows of a transposed A packed at once (a multiple of {@link #ROWS_PER_ITEM}): bounds that
     * buffer (about 8 MiB) when M is a vocabulary; a row chunk has its own, identical, sums.
     */
    private static final int SHARED_A_ROWS = ROWS_PER_ITEM * 36;

    private static final class Buffers {
        final float[] bp = new float[KC_MAX * NC];
        final float[] ap = new float[AG * (MR * KC_MAX + L)];
        final float[] tile = new float[MR * NR];
        final float[] rowsT = new float[TRANSPOSE_ROWS * THIN];
        /** Which B block {@link #bp} holds in {@link #gemmSharedAB}: that call's number, K and column offsets. */
        long packedCall = -1;
        int packedK0;
        int packedJ0;
    }

    private PackedGemm() {
    }

    /** K blocks of near-equal size, at most KC each, or one up to ONE_BLOCK; a function of k alone. */
    static int kBlock(int k) {
        if (k <= ONE_BLOCK) return k;
        int blocks = (k + KC - 1) / KC;
        return (k + blocks - 1) / blocks;
    }

    /** Columns of B once packed: n rounded up to whole panels. */
    static int paddedColumns(int n) {
        return (n + NR - 1) / NR * NR;
    }

    static void gemm(boolean transA, boolean transB, int m, int n, int k,
                     float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                     float[] c, int cOff, int ldc, boolean accumulate, boolean parallel) {
        int colBlocks = (n + NC - 1) / NC;
        int threads = parallel ? Workers.pool().threads() : 1;
        int rowBlocks = 1;
        if (threads > 1) {
            // About eight items per thread for balance, but no row block under 96 rows.
            int want = (8 * threads + colBlocks - 1) / colBlocks;
            rowBlocks = Math.max(1, Math.min(want, m / 96));
        }
        if (parallel && transA && splitK(m, n, k)) {
            // Weight gradients up to a few million outputs per K block set (all of a small
            // model's): two barriers in all, where the shared schedule has two per K block.
            gemmSplitK(!transB && n <= THIN && n < m, transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb,
                    c, cOff, ldc, accumulate);
            return;
        }
        if (rowBlocks > 2 || (transA && parallel && m >= 4 * AG * MR)) {
            gemmSharedB(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate);
            return;
        }
        int mc = (m + rowBlocks - 1) / rowBlocks;
        int mcr = (mc + MR - 1) / MR * MR;
        int items = ((m + mcr - 1) / mcr) * colBlocks;
        if (threads > 1 && items < 8 * threads && splitK(m, n, k)) {
            gemmSplitK(false, transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate);
            return;
        }
        Workers.Range body = (from, to) -> {
            Buffers buf = BUFFERS.get();
            for (int it = from; it < to; it++) {
                int i0 = (it / colBlocks) * mcr;
                int j0 = (it % colBlocks) * NC;
                int i1 = Math.min(m, i0 + mcr);
                int width = Math.min(n, j0 + NC) - j0;
                int kb = kBlock(k);
                for (int k0 = 0; k0 < k; k0 += kb) {
                    int kc = Math.min(kb, k - k0);
                    packB(transB, b, bOff, ldb, k0, kc, j0, width, buf.bp, 0, 0, (width + NR - 1) / NR);
                    multiply(transA, i0, i1, k0, kc, a, aOff, lda, buf.bp, 0, width, c, cOff + j0, ldc,
                            accumulate || k0 > 0, buf);
                }
            }
        };
        if (items == 1 || !parallel) {
            body.run(0, items);
        } else {
            Workers.pool().parallelFor(items, 1, body);
        }
    }

    /**
     * The schedule of thin products with a long K (the weight gradients of LowRank's rank-64
     * factors: M or N = 64, K = tokens), whose row and column blocks are too few to occupy the
     * threads: each (K block, row block, column block) is an item that writes its K block's
     * partial product to a buffer; then the partials are added to C in K-block order. That is
     * the arithmetic of {@link #gemm}'s other schedules (each block's chain from zero, added to
     * C block after block), so the results are the same bits.
     *
     * <p>With {@code swap} it computes the partials of {@code C^T = op(B)^T . op(A)^T} instead
     * (same products, same order over k) and adds them to C transposed. For {@code dW = dY^T H}
     * with N = 64 (H the rank-wide activations) that packs the 64 x K operand H^T, small, and
     * copies dY's rows as B panels (contiguous vectors), instead of transposing all of dY into
     * micro-panels for only 64 columns: 1.2x the speed on one core.
     */
    private static void gemmSplitK(boolean swap, boolean transA, boolean transB, int m, int n, int k,
                                   float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                                   float[] c, int cOff, int ldc, boolean accumulate) {
        // The problem the items compute: C'[pm, pn] = op(A')[pm, K] . op(B')[K, pn].
        int pm = swap ? n : m;
        int pn = swap ? m : n;
        boolean pTransA = swap ? !transB : transA;
        boolean pTransB = swap ? !transA : transB;
        float[] pa = swap ? b : a;
        int paOff = swap ? bOff : aOff;
        int plda = swap ? ldb : lda;
        float[] pb = swap ? a : b;
        int pbOff = swap ? aOff : bOff;
        int pldb = swap ? lda : ldb;
        int threads = Workers.pool().threads();
        int colBlocks = (pn + NC - 1) / NC;
        int kb = kBlock(k);
        int kBlocks = (k + kb - 1) / kb;
        // About eight items per thread; row blocks (each repacking its B blocks) only as needed.
        int want = (8 * threads + kBlocks * colBlocks - 1) / (kBlocks * colBlocks);
        int rowBlocks = Math.max(1, Math.min(want, pm / 96));
        int mc = (pm + rowBlocks - 1) / rowBlocks;
        int mcr = (mc + MR - 1) / MR * MR;
        int tiles = ((pm + mcr - 1) / mcr) * colBlocks;
        int mn = m * n;
        float[] part = SPLIT_PARTS.get(kBlocks * mn);
        Workers.pool().parallelFor(kBlocks * tiles, 1, (from, to) -> {
            Buffers buf = BUFFERS.get();
            for (int it = from; it < to; it++) {
                int kbi = it / tiles;
                int t = it % tiles;
                int i0 = (t / colBlocks) * mcr;
                int j0 = (t % colBlocks) * NC;
                int width = Math.min(pn, j0 + NC) - j0;
                int k0 = kbi * kb;
                int kc = Math.min(kb, k - k0);
                packB(pTransB, pb, pbOff, pldb, k0, kc, j0, width, buf.bp, 0, 0, (width + NR - 1) / NR);
                multiply(pTransA, i0, Math.min(pm, i0 + mcr), k0, kc, pa, paOff, plda, buf.bp, 0, width,
                        part, kbi * mn + j0, pn, false, buf);
            }
        });
        int chunk = swap ? TRANSPOSE_ROWS : 1;
        int chunks = (m + chunk - 1) / chunk;
        Workers.pool().parallelFor(chunks, Math.max(1, chunks / (8 * threads)), (from, to) -> {
            float[] rowsT = swap ? BUFFERS.get().rowsT : null;
            for (int q = from; q < to; q++) {
                int r0 = q * chunk;
                int rows = Math.min(chunk, m - r0);
                for (int kbi = 0; kbi < kBlocks; kbi++) {
                    boolean addC = accumulate || kbi > 0;
                    float[] src = part;
                    int so = kbi * mn + r0 * n;
                    if (swap) {
                        // rows r0 .. r0+rows of C are columns of the partial C^T [n, m]
                        Transpose.transpose(part, kbi * mn + r0, m, rows, n, rowsT, 0, n, rows, n);
                        src = rowsT;
                        so = 0;
                    }
                    for (int r = 0; r < rows; r++) {
                        int co = cOff + (r0 + r) * ldc;
                        int po = so + r * n;
                        int j = 0;
                        for (; j <= n - L; j += L) {
                            FloatVector v = FloatVector.fromArray(S, src, po + j);
                            if (addC) v = FloatVector.fromArray(S, c, co + j).add(v);
                            v.intoArray(c, co + j);
                        }
                        for (; j < n; j++) c[co + j] = addC ? c[co + j] + src[po + j] : src[po + j];
                    }
                }
            }
        });
    }

    /** Whether {@link #gemmSplitK} applies: several K blocks, and partials within {@link #splitKMax}. */
    private static boolean splitK(int m, int n, int k) {
        int kb = kBlock(k);
        int kBlocks = (k + kb - 1) / kb;
        return kBlocks > 1 && (long) kBlocks * m * n <= splitKMax;
    }

    /** The calling thread's buffer for {@link #gemmSplitK}'s partial products, at least {@code size} floats. */

    /**
     * The many-rows schedule: each KC x NC block of B is packed once, its panels shared out among
     * the threads, into a buffer of the calling thread, and then all row blocks multiply with it.
     * Packing B per row block instead would repeat it M / mc times, 3 to 6% of the product at the
     * FFN shapes. Same per-element arithmetic as the per-item schedule.
     */
    private static void gemmSharedB(boolean transA, boolean transB, int m, int n, int k,
                                    float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                                    float[] c, int cOff, int ldc, boolean accumulate) {
        if (transA) {
            for (int i0 = 0; i0 < m; i0 += SHARED_A_ROWS) {
                int rows = Math.min(SHARED_A_ROWS, m - i0);
                gemmSharedAB(transB, rows, n, k, a, aOff + i0, lda, b, bOff, ldb, c, cOff + i0 * ldc, ldc, accumulate);
            }
            return;
        }
        float[] bp = SHARED_B.get();
        int rowItems = (m + ROWS_PER_ITEM - 1) / ROWS_PER_ITEM;
        int kb = kBlock(k);
        for (int j0 = 0; j0 < n; j0 += NC) {
            int width = Math.min(n, j0 + NC) - j0;
            int panels = (width + NR - 1) / NR;
            int jj = j0;
            for (int k0 = 0; k0 < k; k0 += kb) {
                int kc = Math.min(kb, k - k0);
                int kk = k0;
                boolean addC = accumulate || k0 > 0;
                Workers.pool().parallelFor(panels, 1, (from, to) ->
                        packB(transB, b, bOff, ldb, kk, kc, jj, width, bp, 0, from, to));
                Workers.pool().parallelFor(rowItems, 1, (from, to) -> {
                    Buffers buf = BUFFERS.get();
                    for (int it = from; it < to; it++) {
                        int i0 = it * ROWS_PER_ITEM;
                        multiply(transA, i0, Math.min(m, i0 + ROWS_PER_ITEM), kk, kc, a, aOff, lda, bp, 0, width,
                                c, cOff + jj, ldc, addC, buf);
                    }
                });
            }
        }
    }

    /**
     * The many-rows schedule for a transposed A (the weight gradient {@code dW = dY^T X}, whose K
     * is the token count): per K block, all of op(A)'s rows are packed once, k-major, by all
     * threads, and then every column block multiplies with them as the forward multiplies with
     * A's rows in place. Packing A inside each column block instead repeated the copy N / NC
     * times (3 to 11 at the FFN shapes), a fifth of the product. Same per-element arithmetic
     * as {@link #gemm}: only the order of the (K block, column block) pairs differs.
     */
    private static void gemmSharedAB(boolean transB, int m, int n, int k, float[] a, int aOff, int lda,
                                     float[] b, int bOff, int ldb, float[] c, int cOff, int ldc, boolean accumulate) {
        int kb = kBlock(k);
        int ps = apStride(kb);
        int groupRows = AG * MR;
        int groups = (m + groupRows - 1) / groupRows;
        float[] ap = SHARED_A.get(groups * AG * ps);
        // Items of a few micro-panels of one column block, handed out dynamically (a block of 112
        // rows per item left one thread idle for a seventh of the time at M = 768 on two
        // threads), column block by column block. Each thread packs the B block of its item
        // into its own buffer when the block changes: two barriers per K block rather than two
        // per (K block, column block), which cost a third of the time on a loaded machine.
        int microPanels = (m + MR - 1) / MR;
        int grain = Math.max(1, Math.min(16, microPanels / (8 * Workers.pool().threads())));
        int chunks = (microPanels + grain - 1) / grain;
        int colBlocks = (n + NC - 1) / NC;
        long call = CALLS.incrementAndGet();
        for (int k0 = 0; k0 < k; k0 += kb) {
            int kc = Math.min(kb, k - k0);
            int kk = k0;
            boolean addC = accumulate || k0 > 0;
            int aps = apStride(kc);
            Workers.pool().parallelFor(groups, 1, (from, to) -> {
                for (int g = from; g < to; g++) {
                    int g0 = g * groupRows;
                    packA(a, aOff + kk * lda + g0, lda, kc, Math.min(groupRows, m - g0), ap, g * AG * aps);
                }
            });
            Workers.pool().parallelFor(colBlocks * chunks, 1, (from, to) -> {
                Buffers buf = BUFFERS.get();
                for (int it = from; it < to; it++) {
                    int j0 = (it / chunks) * NC;
                    int width = Math.min(n, j0 + NC) - j0;
                    int panels = (width + NR - 1) / NR;
                    if (buf.packedCall != call || buf.packedK0 != kk || buf.packedJ0 != j0) {
                        packB(transB, b, bOff, ldb, kk, kc, j0, width, buf.bp, 0, 0, panels);
                        buf.packedCall = call;
                        buf.packedK0 = kk;
                        buf.packedJ0 = j0;
                    }
                    int mp1 = Math.min(microPanels, (it % chunks + 1) * grain);
                    for (int mp = (it % chunks) * grain; mp < mp1; mp++) {
                        int i = mp * MR;
                        int rows = Math.min(MR, m - i);
                        int co = cOff + i * ldc + j0;
                        for (int p = 0; p < panels; p++) {
                            kernelKMajor(kc, ap, mp * aps, rows, buf.bp, p * kc * NR, c, co + p * NR, ldc,
                                    Math.min(NR, width - p * NR), addC, buf.tile);
                        }
                    }
                }
            });
        }
    }

    /** The calling thread's buffer for {@link #gemmSharedAB}'s packed rows of A, at least {@code size} floats. */

    /**
     * Packs all of op(B) [K, N] for {@link #gemmPackedB}: per K block (at k0, kc deep), its panels
     * one after another, each kc x NR; the block starts at {@code dst[dstOff + k0 * paddedColumns(n)]}.
     */
    static void packAll(boolean transB, int k, int n, float[] b, int bOff, int ldb, float[] dst, int dstOff) {
        int np = paddedColumns(n);
        int kb = kBlock(k);
        for (int k0 = 0; k0 < k; k0 += kb) {
            packB(transB, b, bOff, ldb, k0, Math.min(kb, k - k0), 0, n, dst, dstOff + k0 * np, 0, np / NR);
        }
    }

    /**
     * {@code C[M, n] (+)= op(A) . B[:, 0:n]} on the calling thread, with B packed by
     * {@link #packAll} for {@code packedN >= n} columns (the first n are used).
     */
    static void gemmPackedB(boolean transA, int m, int n, int k, float[] a, int aOff, int lda,
                            float[] bp, int bpOff, int packedN, float[] c, int cOff, int ldc, boolean accumulate) {
        Buffers buf = BUFFERS.get();
        int np = paddedColumns(packedN);
        int kb = kBlock(k);
        for (int k0 = 0; k0 < k; k0 += kb) {
            int kc = Math.min(kb, k - k0);
            multiply(transA, 0, m, k0, kc, a, aOff, lda, bp, bpOff + k0 * np, n, c, cOff, ldc, accumulate || k0 > 0, buf);
        }
    }

    /**
     * Rows [i0, i1) of {@code C[:, 0:width] (+)= op(A)[:, k0:k0+kc] . Bblock}, the B block packed at
     * {@code bp[bo ..]} as consecutive kc x NR panels.
     */
    private static void multiply(boolean transA, int i0, int i1, int k0, int kc, float[] a, int aOff, int lda,
                                 float[] bp, int bo, int width, float[] c, int cOff, int ldc, boolean addC, Buffers buf) {
        int panels = (width + NR - 1) / NR;
        float[] tile = buf.tile;
        if (!transA) {
            for (int i = i0; i < i1; i += MR) {
                int rows = Math.min(MR, i1 - i);
                int ao = aOff + i * lda + k0;
                int co = cOff + i * ldc;
                for (int p = 0; p < panels; p++) {
                    kernelRows(kc, a, ao, lda, rows, bp, bo + p * kc * NR, c, co + p * NR, ldc,
                            Math.min(NR, width - p * NR), addC, tile);
                }
            }
            return;
        }
        // A transposed: copy AG micro-panels at a time, so that each of A's rows (op(A)'s columns)
        // is read as one contiguous run; one run per micro-panel would touch a page per k.
        for (int g = i0; g < i1; g += AG * MR) {
            int gRows = Math.min(AG * MR, i1 - g);
            packA(a, aOff + k0 * lda + g, lda, kc, gRows, buf.ap, 0);
            for (int i = 0; i < gRows; i += MR) {
                int rows = Math.min(MR, gRows - i);
                int co = cOff + (g + i) * ldc;
                for (int p = 0; p < panels; p++) {
                    kernelKMajor(kc, buf.ap, i / MR * apStride(kc), rows, bp, bo + p * kc * NR, c, co + p * NR, ldc,
                            Math.min(NR, width - p * NR), addC, tile);
                }
            }
        }
    }

    /**
     * Micro-panels of op(A)[r, kk] = A[kk*lda + r] (from {@code a[base ..]}) for r < rows:
     * {@code ap[apOff + (r / MR)*apStride(kc) + kk*MR + r % MR]}, rows past {@code rows} zero. Each k's MR
     * values go as one full-width copy, its extra lanes overwritten by the next k (or landing in
     * the panel's padding): masked copies cost a third of the whole product on AMD cores.
     */
    private static void packA(float[] a, int base, int lda, int kc, int rows, float[] ap, int apOff) {
        int panels = (rows + MR - 1) / MR;
        int full = rows / MR;
        int ps = apStride(kc);
        for (int kk = 0; kk < kc; kk++) {
            int src = base + kk * lda;
            int dst = apOff + kk * MR;
            int p = 0;
            if (COPY) {
                // The last lane read must stay inside a: stop the fast copies early at its end.
                int fast = Math.min(full, Math.floorDiv(a.length - L - src, MR) + 1);
                for (; p < fast; p++) {
                    FloatVector.fromArray(S, a, src + p * MR).intoArray(ap, dst + p * ps);
                }
            }
            for (; p < panels; p++) {
                int n = Math.min(MR, rows - p * MR);
                int d = dst + p * ps;
                for (int r = 0; r < MR; r++) ap[d + r] = r < n ? a[src + p * MR + r] : 0f;
            }
        }
    }

    /** Floats per packed micro-panel of A: kc x MR and room for the last k's extra lanes. */
    private static int apStride(int kc) {
        return kc * MR + L;
    }

    /**
     * Panels [p0, p1) of op(B)[k0 : k0+kc, j0 : j0+width] at {@code bp[po + p*kc*NR + kk*NR + jj]},
     * columns past width zero.
     */
    private static void packB(boolean transB, float[] b, int bOff, int ldb, int k0, int kc, int j0, int width,
                              float[] bp, int po, int p0, int p1) {
        for (int p = p0; p < p1; p++) {
            int cols = Math.min(NR, width - p * NR);
            int j = j0 + p * NR;
            int d0 = po + p * kc * NR;
            if (transB) {
                // op(B)[kk, jj] = B[(j + jj)*ldb + k0 + kk]: a transpose.
                Transpose.transpose(b, bOff + j * ldb + k0, ldb, kc, cols, bp, d0, NR, kc, NR);
                continue;
            }
            int src = bOff + k0 * ldb + j;
            if (cols == NR) {
                for (int kk = 0; kk < kc; kk++) {
                    int s = src + kk * ldb;
                    int d = d0 + kk * NR;
                    for (int v = 0; v < NR; v += L) FloatVector.fromArray(S, b, s + v).intoArray(bp, d + v);
                }
            } else {
                for (int kk = 0; kk < kc; kk++) {
                    int s = src + kk * ldb;
                    int d = d0 + kk * NR;
                    for (int v = 0; v < NR; v += L) {
                        FloatVector.fromArray(S, b, s + v, S.indexInRange(v, cols)).intoArray(bp, d + v);
                    }
                }
            }
        }
    }

    /*
     * Micro-kernels: C[rows, cols] (+)= A[rows, kc] . panel[kc, NR], rows <= MR, cols <= NR, with A
     * as rows in place (a[ao + r*lda + kk]; missing rows repeat the last) or packed k-major
     * (ap[ao + kk*MR + r]; missing rows are zero). A narrow last panel (N mod NR, e.g. 16 of a
     * 64-wide head) runs a kernel of fewer vectors instead of multiplying its zero padding.
     * The kernels spill their accumulators to a small tile and leave the C update to update():
     * a helper taking vectors as arguments would box them whenever the JIT declines to inline it.
     */

    private static void kernelRows(int kc, float[] a, int ao, int lda, int rows, float[] bp, int bo,
                                   float[] c, int co, int ldc, int cols, boolean addC, float[] tile) {
        if (!WIDE) {
            if (cols > L) {
                kernelR6x2(kc, a, ao, lda, rows, bp, bo, c, co, ldc, cols, addC, tile);
            } else {
                kernelR6x1(kc, a, ao, lda, rows, bp, bo, c, co, ldc, cols, addC, tile);
            }
        } else if (cols > 2 * L) {
            kernelR7x3(kc, a, ao, lda, rows, bp, bo, c, co, ldc, cols, addC, tile);
        } else if (cols > L) {
            kernelR7x2(kc, a, ao, lda, rows, bp, bo, c, co, ldc, cols, addC, tile);
        } else {
            kernelR7x1(kc, a, ao, lda, rows, bp, bo, c, co, ldc, cols, addC, tile);
        }
    }

    private static void kernelKMajor(int kc, float[] ap, int ao, int rows, float[] bp, int bo,
                                     float[] c, int co, int ldc, int cols, boolean addC, float[] tile) {
        if (!WIDE) {
            if (cols > L) {
                kernelK6x2(kc, ap, ao, rows, bp, bo, c, co, ldc, cols, addC, tile);
            } else {
                kernelK6x1(kc, ap, ao, rows, bp, bo, c, co, ldc, cols, addC, tile);
            }
        } else if (cols > 2 * L) {
            kernelK7x3(kc, ap, ao, rows, bp, bo, c, co, ldc, cols, addC, tile);
        } else if (cols > L) {
            kernelK7x2(kc, ap, ao, rows, bp, bo, c, co, ldc, cols, addC, tile);
        } else {
            kernelK7x1(kc, ap, ao, rows, bp, bo, c, co, ldc, cols, addC, tile);
        }
    }

    private static void kernelR7x3(int kc, float[] a, int ao, int lda, int rows, float[] bp, int bo,
                                  float[] c, int co, int ldc, int cols, boolean addC, float[] tile) {
        int ar0 = ao;
        int ar1 = ao + Math.min(1, rows - 1) * lda;
        int ar2 = ao + Math.min(2, rows - 1) * lda;
        int ar3 = ao + Math.min(3, rows - 1) * lda;
        int ar4 = ao + Math.min(4, rows - 1) * lda;
        int ar5 = ao + Math.min(5, rows - 1) * lda;
        int ar6 = ao + Math.min(6, rows - 1) * lda;
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
        FloatVector c60 = FloatVector.zero(S);
        FloatVector c61 = FloatVector.zero(S);
        FloatVector c62 = FloatVector.zero(S);
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
            FloatVector x6 = FloatVector.broadcast(S, a[ar6 + k]);
            c60 = b0.fma(x6, c60);
            c61 = b1.fma(x6, c61);
            c62 = b2.fma(x6, c62);
        }
        if (rows == 7 && cols == NR) {
            // A whole tile goes to C from the registers, with the sums update makes (C + tile): at
            // K = 64 the trip through the tile buffer took a fifth of the product (4096 x 3072 x 64
            // forward: 275-307 GFLOP/s through it, 371-385 direct).
            if (addC) {
                c00 = FloatVector.fromArray(S, c, co + 0 * ldc + 0 * L).add(c00);
                c01 = FloatVector.fromArray(S, c, co + 0 * ldc + 1 * L).add(c01);
                c02 = FloatVector.fromArray(S, c, co + 0 * ldc + 2 * L).add(c02);
                c10 = FloatVector.fromArray(S, c, co + 1 * ldc + 0 * L).add(c10);
                c11 = FloatVector.fromArray(S, c, co + 1 * ldc + 1 * L).add(c11);
                c12 = FloatVector.fromArray(S, c, co + 1 * ldc + 2 * L).add(c12);
                c20 = FloatVector.fromArray(S, c, co + 2 * ldc + 0 * L).add(c20);
                c21 = FloatVector.fromArray(S, c, co + 2 * ldc + 1 * L).add(c21);
                c22 = FloatVector.fromArray(S, c, co + 2 * ldc + 2 * L).add(c22);
                c30 = FloatVector.fromArray(S, c, co + 3 * ldc + 0 * L).add(c30);
                c31 = FloatVector.fromArray(S, c, co + 3 * ldc + 1 * L).add(c31);
                c32 = FloatVector.fromArray(S, c, co + 3 * ldc + 2 * L).add(c32);
                c40 = FloatVector.fromArray(S, c, co + 4 * ldc + 0 * L).add(c40);
                c41 = FloatVector.fromArray(S, c, co + 4 * ldc + 1 * L).add(c41);
                c42 = FloatVector.fromArray(S, c, co + 4 * ldc + 2 * L).add(c42);
                c50 = FloatVector.fromArray(S, c, co + 5 * ldc + 0 * L).add(c50);
                c51 = FloatVector.fromArray(S, c, co + 5 * ldc + 1 * L).add(c51);
                c52 = FloatVector.fromArray(S, c, co + 5 * ldc + 2 * L).add(c52);
                c60 = FloatVector.fromArray(S, c, co + 6 * ldc + 0 * L).add(c60);
                c61 = FloatVector.fromArray(S, c, co + 6 * ldc + 1 * L).add(c61);
                c62 = FloatVector.fromArray(S, c, co + 6 * ldc + 2 * L).add(c62);
            }
            c00.intoArray(c, co + 0 * ldc + 0 * L);
            c01.intoArray(c, co + 0 * ldc + 1 * L);
            c02.intoArray(c, co + 0 * ldc + 2 * L);
            c10.intoArray(c, co + 1 * ldc + 0 * L);
            c11.intoArray(c, co + 1 * ldc + 1 * L);
            c12.intoArray(c, co + 1 * ldc + 2 * L);
            c20.intoArray(c, co + 2 * ldc + 0 * L);
            c21.intoArray(c, co + 2 * ldc + 1 * L);
            c22.intoArray(c, co + 2 * ldc + 2 * L);
            c30.intoArray(c, co + 3 * ldc + 0 * L);
            c31.intoArray(c, co + 3 * ldc + 1 * L);
            c32.intoArray(c, co + 3 * ldc + 2 * L);
            c40.intoArray(c, co + 4 * ldc + 0 * L);
            c41.intoArray(c, co + 4 * ldc + 1 * L);
            c42.intoArray(c, co + 4 * ldc + 2 * L);
            c50.intoArray(c, co + 5 * ldc + 0 * L);
            c51.intoArray(c, co + 5 * ldc + 1 * L);
            c52.intoArray(c, co + 5 * ldc + 2 * L);
            c60.intoArray(c, co + 6 * ldc + 0 * L);
            c61.intoArray(c, co + 6 * ldc + 1 * L);
            c62.intoArray(c, co + 6 * ldc + 2 * L);
            return;
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
        c60.intoArray(tile, 6 * NR);
        c61.intoArray(tile, 6 * NR + 1 * L);
        c62.intoArray(tile, 6 * NR + 2 * L);
        update(tile, rows, cols, c, co, ldc, addC);
    }

    private static void kernelR7x2(int kc, float[] a, int ao, int lda, int rows, float[] bp, int bo,
                                  float[] c, int co, int ldc, int cols, boolean addC, float[] tile) {
        int ar0 = ao;
        int ar1 = ao + Math.min(1, rows - 1) * lda;
        int ar2 = ao + Math.min(2, rows - 1) * lda;
        int ar3 = ao + Math.min(3, rows - 1) * lda;
        int ar4 = ao + Math.min(4, rows - 1) * lda;
        int ar5 = ao + Math.min(5, rows - 1) * lda;
        int ar6 = ao + Math.min(6, rows - 1) * lda;
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
        FloatVector c60 = FloatVector.zero(S);
        FloatVector c61 = FloatVector.zero(S);
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
            FloatVector x6 = FloatVector.broadcast(S, a[ar6 + k]);
            c60 = b0.fma(x6, c60);
            c61 = b1.fma(x6, c61);
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
        c60.intoArray(tile, 6 * NR);
        c61.intoArray(tile, 6 * NR + 1 * L);
        update(tile, rows, cols, c, co, ldc, addC);
    }

    private static void kernelR7x1(int kc, float[] a, int ao, int lda, int rows, float[] bp, int bo,
                                  float[] c, int co, int ldc, int cols, boolean addC, float[] tile) {
        int ar0 = ao;
        int ar1 = ao + Math.min(1, rows - 1) * lda;
        int ar2 = ao + Math.min(2, rows - 1) * lda;
        int ar3 = ao + Math.min(3, rows - 1) * lda;
        int ar4 = ao + Math.min(4, rows - 1) * lda;
        int ar5 = ao + Math.min(5, rows - 1) * lda;
        int ar6 = ao + Math.min(6, rows - 1) * lda;
        FloatVector c00 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S);
        FloatVector c50 = FloatVector.zero(S);
        FloatVector c60 = FloatVector.zero(S);
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
            FloatVector x6 = FloatVector.broadcast(S, a[ar6 + k]);
            c60 = b0.fma(x6, c60);
        }
        c00.intoArray(tile, 0 * NR);
        c10.intoArray(tile, 1 * NR);
        c20.intoArray(tile, 2 * NR);
        c30.intoArray(tile, 3 * NR);
        c40.intoArray(tile, 4 * NR);
        c50.intoArray(tile, 5 * NR);
        c60.intoArray(tile, 6 * NR);
        update(tile, rows, cols, c, co, ldc, addC);
    }

    private static void kernelK7x3(int kc, float[] ap, int ao, int rows, float[] bp, int bo,
                                  float[] c, int co, int ldc, int cols, boolean addC, float[] tile) {
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
        FloatVector c60 = FloatVector.zero(S);
        FloatVector c61 = FloatVector.zero(S);
        FloatVector c62 = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            int bk = bo + k * NR;
            int ak = ao + k * 7;
            FloatVector b0 = FloatVector.fromArray(S, bp, bk);
            FloatVector b1 = FloatVector.fromArray(S, bp, bk + 1 * L);
            FloatVector b2 = FloatVector.fromArray(S, bp, bk + 2 * L);
            FloatVector x0 = FloatVector.broadcast(S, ap[ak + 0]);
            c00 = b0.fma(x0, c00);
            c01 = b1.fma(x0, c01);
            c02 = b2.fma(x0, c02);
            FloatVector x1 = FloatVector.broadcast(S, ap[ak + 1]);
            c10 = b0.fma(x1, c10);
            c11 = b1.fma(x1, c11);
            c12 = b2.fma(x1, c12);
            FloatVector x2 = FloatVector.broadcast(S, ap[ak + 2]);
            c20 = b0.fma(x2, c20);
            c21 = b1.fma(x2, c21);
            c22 = b2.fma(x2, c22);
            FloatVector x3 = FloatVector.broadcast(S, ap[ak + 3]);
            c30 = b0.fma(x3, c30);
            c31 = b1.fma(x3, c31);
            c32 = b2.fma(x3, c32);
            FloatVector x4 = FloatVector.broadcast(S, ap[ak + 4]);
            c40 = b0.fma(x4, c40);
            c41 = b1.fma(x4, c41);
            c42 = b2.fma(x4, c42);
            FloatVector x5 = FloatVector.broadcast(S, ap[ak + 5]);
            c50 = b0.fma(x5, c50);
            c51 = b1.fma(x5, c51);
            c52 = b2.fma(x5, c52);
            FloatVector x6 = FloatVector.broadcast(S, ap[ak + 6]);
            c60 = b0.fma(x6, c60);
            c61 = b1.fma(x6, c61);
            c62 = b2.fma(x6, c62);
        }
        if (rows == 7 && cols == NR) {
            // A whole tile goes to C from the registers, with the sums update makes (C + tile): at
            // K = 64 the trip through the tile buffer took a fifth of the product (4096 x 3072 x 64
            // forward: 275-307 GFLOP/s through it, 371-385 direct).
            if (addC) {
                c00 = FloatVector.fromArray(S, c, co + 0 * ldc + 0 * L).add(c00);
                c01 = FloatVector.fromArray(S, c, co + 0 * ldc + 1 * L).add(c01);
                c02 = FloatVector.fromArray(S, c, co + 0 * ldc + 2 * L).add(c02);
                c10 = FloatVector.fromArray(S, c, co + 1 * ldc + 0 * L).add(c10);
                c11 = FloatVector.fromArray(S, c, co + 1 * ldc + 1 * L).add(c11);
                c12 = FloatVector.fromArray(S, c, co + 1 * ldc + 2 * L).add(c12);
                c20 = FloatVector.fromArray(S, c, co + 2 * ldc + 0 * L).add(c20);
                c21 = FloatVector.fromArray(S, c, co + 2 * ldc + 1 * L).add(c21);
                c22 = FloatVector.fromArray(S, c, co + 2 * ldc + 2 * L).add(c22);
                c30 = FloatVector.fromArray(S, c, co + 3 * ldc + 0 * L).add(c30);
                c31 = FloatVector.fromArray(S, c, co + 3 * ldc + 1 * L).add(c31);
                c32 = FloatVector.fromArray(S, c, co + 3 * ldc + 2 * L).add(c32);
                c40 = FloatVector.fromArray(S, c, co + 4 * ldc + 0 * L).add(c40);
                c41 = FloatVector.fromArray(S, c, co + 4 * ldc + 1 * L).add(c41);
                c42 = FloatVector.fromArray(S, c, co + 4 * ldc + 2 * L).add(c42);
                c50 = FloatVector.fromArray(S, c, co + 5 * ldc + 0 * L).add(c50);
                c51 = FloatVector.fromArray(S, c, co + 5 * ldc + 1 * L).add(c51);
                c52 = FloatVector.fromArray(S, c, co + 5 * ldc + 2 * L).add(c52);
                c60 = FloatVector.fromArray(S, c, co + 6 * ldc + 0 * L).add(c60);
                c61 = FloatVector.fromArray(S, c, co + 6 * ldc + 1 * L).add(c61);
                c62 = FloatVector.fromArray(S, c, co + 6 * ldc + 2 * L).add(c62);
            }
            c00.intoArray(c, co + 0 * ldc + 0 * L);
            c01.intoArray(c, co + 0 * ldc + 1 * L);
            c02.intoArray(c, co + 0 * ldc + 2 * L);
            c10.intoArray(c, co + 1 * ldc + 0 * L);
            c11.intoArray(c, co + 1 * ldc + 1 * L);
            c12.intoArray(c, co + 1 * ldc + 2 * L);
            c20.intoArray(c, co + 2 * ldc + 0 * L);
            c21.intoArray(c, co + 2 * ldc + 1 * L);
            c22.intoArray(c, co + 2 * ldc + 2 * L);
            c30.intoArray(c, co + 3 * ldc + 0 * L);
            c31.intoArray(c, co + 3 * ldc + 1 * L);
            c32.intoArray(c, co + 3 * ldc + 2 * L);
            c40.intoArray(c, co + 4 * ldc + 0 * L);
            c41.intoArray(c, co + 4 * ldc + 1 * L);
            c42.intoArray(c, co + 4 * ldc + 2 * L);
            c50.intoArray(c, co + 5 * ldc + 0 * L);
            c51.intoArray(c, co + 5 * ldc + 1 * L);
            c52.intoArray(c, co + 5 * ldc + 2 * L);
            c60.intoArray(c, co + 6 * ldc + 0 * L);
            c61.intoArray(c, co + 6 * ldc + 1 * L);
            c62.intoArray(c, co + 6 * ldc + 2 * L);
            return;
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
        c60.intoArray(tile, 6 * NR);
        c61.intoArray(tile, 6 * NR + 1 * L);
        c62.intoArray(tile, 6 * NR + 2 * L);
        update(tile, rows, cols, c, co, ldc, addC);
    }

    private static void kernelK7x2(int kc, float[] ap, int ao, int rows, float[] bp, int bo,
                                  float[] c, int co, int ldc, int cols, boolean addC, float[] tile) {
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
        FloatVector c60 = FloatVector.zero(S);
        FloatVector c61 = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            int bk = bo + k * NR;
            int ak = ao + k * 7;
            FloatVector b0 = FloatVector.fromArray(S, bp, bk);
            FloatVector b1 = FloatVector.fromArray(S, bp, bk + 1 * L);
            FloatVector x0 = FloatVector.broadcast(S, ap[ak + 0]);
            c00 = b0.fma(x0, c00);
            c01 = b1.fma(x0, c01);
            FloatVector x1 = FloatVector.broadcast(S, ap[ak + 1]);
            c10 = b0.fma(x1, c10);
            c11 = b1.fma(x1, c11);
            FloatVector x2 = FloatVector.broadcast(S, ap[ak + 2]);
            c20 = b0.fma(x2, c20);
            c21 = b1.fma(x2, c21);
            FloatVector x3 = FloatVector.broadcast(S, ap[ak + 3]);
            c30 = b0.fma(x3, c30);
            c31 = b1.fma(x3, c31);
            FloatVector x4 = FloatVector.broadcast(S, ap[ak + 4]);
            c40 = b0.fma(x4, c40);
            c41 = b1.fma(x4, c41);
            FloatVector x5 = FloatVector.broadcast(S, ap[ak + 5]);
            c50 = b0.fma(x5, c50);
            c51 = b1.fma(x5, c51);
            FloatVector x6 = FloatVector.broadcast(S, ap[ak + 6]);
            c60 = b0.fma(x6, c60);
            c61 = b1.fma(x6, c61);
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
        c60.intoArray(tile, 6 * NR);
        c61.intoArray(tile, 6 * NR + 1 * L);
        update(tile, rows, cols, c, co, ldc, addC);
    }

    private static void kernelK7x1(int kc, float[] ap, int ao, int rows, float[] bp, int bo,
                                  float[] c, int co, int ldc, int cols, boolean addC, float[] tile) {
        FloatVector c00 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S);
        FloatVector c50 = FloatVector.zero(S);
        FloatVector c60 = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            int bk = bo + k * NR;
            int ak = ao + k * 7;
            FloatVector b0 = FloatVector.fromArray(S, bp, bk);
            FloatVector x0 = FloatVector.broadcast(S, ap[ak + 0]);
            c00 = b0.fma(x0, c00);
            FloatVector x1 = FloatVector.broadcast(S, ap[ak + 1]);
            c10 = b0.fma(x1, c10);
            FloatVector x2 = FloatVector.broadcast(S, ap[ak + 2]);
            c20 = b0.fma(x2, c20);
            FloatVector x3 = FloatVector.broadcast(S, ap[ak + 3]);
            c30 = b0.fma(x3, c30);
            FloatVector x4 = FloatVector.broadcast(S, ap[ak + 4]);
            c40 = b0.fma(x4, c40);
            FloatVector x5 = FloatVector.broadcast(S, ap[ak + 5]);
            c50 = b0.fma(x5, c50);
            FloatVector x6 = FloatVector.broadcast(S, ap[ak + 6]);
            c60 = b0.fma(x6, c60);
        }
        c00.intoArray(tile, 0 * NR);
        c10.intoArray(tile, 1 * NR);
        c20.intoArray(tile, 2 * NR);
        c30.intoArray(tile, 3 * NR);
        c40.intoArray(tile, 4 * NR);
        c50.intoArray(tile, 5 * NR);
        c60.intoArray(tile, 6 * NR);
        update(tile, rows, cols, c, co, ldc, addC);
    }

    private static void kernelR6x2(int kc, float[] a, int ao, int lda, int rows, float[] bp, int bo,
                                  float[] c, int co, int ldc, int cols, boolean addC, float[] tile) {
        int ar0 = ao;
        int ar1 = ao + Math.min(1, rows - 1) * lda;
        int ar2 = ao + Math.min(2, rows - 1) * lda;
        int ar3 = ao + Math.min(3, rows - 1) * lda;
        int ar4 = ao + Math.min(4, rows - 1) * lda;
        int ar5 = ao + Math.min(5, rows - 1) * lda;
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

    private static void kernelR6x1(int kc, float[] a, int ao, int lda, int rows, float[] bp, int bo,
                                  float[] c, int co, int ldc, int cols, boolean addC, float[] tile) {
        int ar0 = ao;
        int ar1 = ao + Math.min(1, rows - 1) * lda;
        int ar2 = ao + Math.min(2, rows - 1) * lda;
        int ar3 = ao + Math.min(3, rows - 1) * lda;
        int ar4 = ao + Math.min(4, rows - 1) * lda;
        int ar5 = ao + Math.min(5, rows - 1) * lda;
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

    private static void kernelK6x2(int kc, float[] ap, int ao, int rows, float[] bp, int bo,
                                  float[] c, int co, int ldc, int cols, boolean addC, float[] tile) {
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
            int ak = ao + k * 6;
            FloatVector b0 = FloatVector.fromArray(S, bp, bk);
            FloatVector b1 = FloatVector.fromArray(S, bp, bk + 1 * L);
            FloatVector x0 = FloatVector.broadcast(S, ap[ak + 0]);
            c00 = b0.fma(x0, c00);
            c01 = b1.fma(x0, c01);
            FloatVector x1 = FloatVector.broadcast(S, ap[ak + 1]);
            c10 = b0.fma(x1, c10);
            c11 = b1.fma(x1, c11);
            FloatVector x2 = FloatVector.broadcast(S, ap[ak + 2]);
            c20 = b0.fma(x2, c20);
            c21 = b1.fma(x2, c21);
            FloatVector x3 = FloatVector.broadcast(S, ap[ak + 3]);
            c30 = b0.fma(x3, c30);
            c31 = b1.fma(x3, c31);
            FloatVector x4 = FloatVector.broadcast(S, ap[ak + 4]);
            c40 = b0.fma(x4, c40);
            c41 = b1.fma(x4, c41);
            FloatVector x5 = FloatVector.broadcast(S, ap[ak + 5]);
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

    private static void kernelK6x1(int kc, float[] ap, int ao, int rows, float[] bp, int bo,
                                  float[] c, int co, int ldc, int cols, boolean addC, float[] tile) {
        FloatVector c00 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S);
        FloatVector c50 = FloatVector.zero(S);
        for (int k = 0; k < kc; k++) {
            int bk = bo + k * NR;
            int ak = ao + k * 6;
            FloatVector b0 = FloatVector.fromArray(S, bp, bk);
            FloatVector x0 = FloatVector.broadcast(S, ap[ak + 0]);
            c00 = b0.fma(x0, c00);
            FloatVector x1 = FloatVector.broadcast(S, ap[ak + 1]);
            c10 = b0.fma(x1, c10);
            FloatVector x2 = FloatVector.broadcast(S, ap[ak + 2]);
            c20 = b0.fma(x2, c20);
            FloatVector x3 = FloatVector.broadcast(S, ap[ak + 3]);
            c30 = b0.fma(x3, c30);
            FloatVector x4 = FloatVector.broadcast(S, ap[ak + 4]);
            c40 = b0.fma(x4, c40);
            FloatVector x5 = FloatVector.broadcast(S, ap[ak + 5]);
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
