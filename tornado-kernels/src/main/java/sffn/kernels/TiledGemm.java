package sffn.kernels;

import uk.ac.manchester.tornado.api.KernelContext;

/**
 * Register-tiled GEMM for GPUs (KernelContext): one strided kernel serves the dense matmul's
 * three products and the block-diagonal batched ones, in a BLAS-like form over {@code z}
 * independent problems (the blocks; 1 for a dense matmul):
 *
 * <pre>
 *   C_z[i, j] (+)= sum_l opA_z(i, l) opB_z(l, j) (+ bias[j])        i < m, j < n, l < k
 *   opA_z(i, l) = a[z aZ + i lda + l]   or, transposed, a[z aZ + l lda + i]
 *   opB_z(l, j) = b[z bZ + l ldb + j]   or, transposed, b[z bZ + j ldb + l]
 *   C_z[i, j]   = c[z cZ + i ldc + j]
 * </pre>
 *
 * {@code flags}: {@link #TRANS_A} | {@link #TRANS_B} | {@link #ACCUMULATE} | {@link #BIAS}.
 *
 * <p>A work-group of {@code TX x TY} work-items computes a {@code BM x BN} tile of C; each
 * work-item holds {@code RM x RN = (BM/TY) x (BN/TX)} outputs in registers, at rows
 * {@code ty + r TY} and columns {@code tx + c TX} (strided, so neighbouring work-items read
 * neighbouring local-memory words and write neighbouring addresses of C). K advances in slices of
 * {@code TK}, staged in local memory transposed to k-major ({@code As[l][i]}, {@code Bs[l][j]}, rows
 * padded by one word) so that the inner product reads a row of each without bank conflicts; the
 * loads walk whichever index is contiguous in global memory, so they coalesce for every
 * transposition. Out-of-range elements load as zero and are never stored, so ragged edges need no
 * second kernel. Grid: {@code (ceil(n/BN) TX, ceil(m/BM) TY, z)}, work-groups {@code (TX, TY, 1)}.
 *
 * <p>Each tile shape is its own kernel method (a local array's size must be a compile-time
 * constant, and the accumulators are scalars so that they stay in registers), written out by
 * {@code scripts/gen-tiled-gemm}; {@link Tiles} names them. They cannot run as plain Java.
 */
public final class TiledGemm {
    public static final int TRANS_A = 1;
    public static final int TRANS_B = 2;
    public static final int ACCUMULATE = 4;
    public static final int BIAS = 8;

    private TiledGemm() {
    }

    /** A tile shape: output tile BM x BN, K slice TK, work-group TX x TY. */
    public enum Tiles {
        /** 32 x 32 outputs, 8 x 8 work-items of 4 x 4: small matrices, CPU-like devices. */
        T32(32, 32, 16, 8, 8),
        /** 64 x 64 outputs, 16 x 16 work-items of 4 x 4: GPUs. */
        T64(64, 64, 16, 16, 16);

        public final int bm;
        public final int bn;
        public final int tk;
        public final int tx;
        public final int ty;

        Tiles(int bm, int bn, int tk, int tx, int ty) {
            this.bm = bm;
            this.bn = bn;
            this.tk = tk;
            this.tx = tx;
            this.ty = ty;
        }

        /** Local memory of one work-group, bytes. */
        public long localBytes() {
            return 4L * tk * (bm + 1 + bn + 1);
        }

        /** e.g. {@code 64x64/4x4}: outputs per work-group, then per work-item. */
        public String label() {
            return bm + "x" + bn + "/" + (bm / ty) + "x" + (bn / tx);
        }

        public static Tiles parse(String s) {
            for (Tiles t : values()) {
                if (t.name().equalsIgnoreCase(s) || t.label().equals(s)) return t;
            }
            throw new IllegalArgumentException("tile shape '" + s + "' is none of " + java.util.Arrays.toString(values()));
        }
    }

    // ---- staging and the epilogue, shared by every shape (TornadoVM inlines them) -------------

    /** Local slot of the e-th element of the A slice: {@code As[l][i]} at {@code l la + i}. */
    private static int aSlot(int e, int transA, int bm, int tk, int la) {
        // e walks the contiguous index of A in global memory: i if transposed, l otherwise.
        if (transA != 0) {
            return e / bm * la + e % bm;
        }
        return e % tk * la + e / tk;
    }

    /** The e-th element of the A slice, opA(i0 + i, k0 + l), or 0 outside the matrix. */
    private static float aLoad(float[] a, int e, int transA, int aBase, int lda, int i0, int k0, int m, int k, int bm,
                               int tk) {
        int i;
        int l;
        if (transA != 0) {
            l = e / bm;
            i = e % bm;
        } else {
            i = e / tk;
            l = e % tk;
        }
        float v = 0f;
        if (i0 + i < m && k0 + l < k) {
            if (transA != 0) {
                v = a[aBase + (k0 + l) * lda + i0 + i];
            } else {
                v = a[aBase + (i0 + i) * lda + k0 + l];
            }
        }
        return v;
    }

    /** Local slot of the e-th element of the B slice: {@code Bs[l][j]} at {@code l lb + j}. */
    private static int bSlot(int e, int transB, int bn, int tk, int lb) {
        if (transB != 0) {
            return e % tk * lb + e / tk;
        }
        return e / bn * lb + e % bn;
    }

    /** The e-th element of the B slice, opB(k0 + l, j0 + j), or 0 outside the matrix. */
    private static float bLoad(float[] b, int e, int transB, int bBase, int ldb, int j0, int k0, int n, int k, int bn,
                               int tk) {
        int j;
        int l;
        if (transB != 0) {
            j = e / tk;
            l = e % tk;
        } else {
            l = e / bn;
            j = e % bn;
        }
        float v = 0f;
        if (j0 + j < n && k0 + l < k) {
            if (transB != 0) {
                v = b[bBase + (j0 + j) * ldb + k0 + l];
            } else {
                v = b[bBase + (k0 + l) * ldb + j0 + j];
            }
        }
        return v;
    }

    /** Stores one output (inside the matrix only), adding the bias and the old value as flags say. */
    private static void put(float[] c, float[] bias, int flags, int m, int n, int ldc, int cBase, int i, int j, float s) {
        if (i < m && j < n) {
            float v = s;
            if ((flags & BIAS) != 0) {
                v += bias[j];
            }
            int o = cBase + i * ldc + j;
            if ((flags & ACCUMULATE) != 0) {
                v += c[o];
            }
            c[o] = v;
        }
    }

    // ---- BEGIN GENERATED by scripts/gen-tiled-gemm (do not edit by hand) ----

    public static void gemm32(KernelContext ctx, float[] a, float[] b, float[] bias, float[] c, int m, int n, int k,
                              int lda, int ldb, int ldc, int flags, int aZ, int bZ, int cZ) {
        // 32 x 32 outputs per work-group of 8 x 8, 4 x 4 per work-item; K slices of 16.
        float[] as = ctx.allocateFloatLocalArray(528);
        float[] bs = ctx.allocateFloatLocalArray(528);
        int lx = ctx.localIdx;
        int ly = ctx.localIdy;
        int lid = ly * 8 + lx;
        int i0 = ctx.groupIdy * 32;
        int j0 = ctx.groupIdx * 32;
        int aBase = ctx.groupIdz * aZ;
        int bBase = ctx.groupIdz * bZ;
        int transA = flags & TRANS_A;
        int transB = flags & TRANS_B;
        float c0_0 = 0f; float c0_1 = 0f; float c0_2 = 0f; float c0_3 = 0f;
        float c1_0 = 0f; float c1_1 = 0f; float c1_2 = 0f; float c1_3 = 0f;
        float c2_0 = 0f; float c2_1 = 0f; float c2_2 = 0f; float c2_3 = 0f;
        float c3_0 = 0f; float c3_1 = 0f; float c3_2 = 0f; float c3_3 = 0f;
        for (int k0 = 0; k0 < k; k0 += 16) {
            for (int e = lid; e < 512; e += 64) {
                as[aSlot(e, transA, 32, 16, 33)] = aLoad(a, e, transA, aBase, lda, i0, k0, m, k, 32, 16);
            }
            for (int e = lid; e < 512; e += 64) {
                bs[bSlot(e, transB, 32, 16, 33)] = bLoad(b, e, transB, bBase, ldb, j0, k0, n, k, 32, 16);
            }
            ctx.localBarrier();
            for (int l = 0; l < 16; l++) {
                int ao = l * 33 + ly;
                int bo = l * 33 + lx;
                float a0 = as[ao + 0];
                float a1 = as[ao + 8];
                float a2 = as[ao + 16];
                float a3 = as[ao + 24];
                float b0 = bs[bo + 0];
                float b1 = bs[bo + 8];
                float b2 = bs[bo + 16];
                float b3 = bs[bo + 24];
                c0_0 += a0 * b0; c0_1 += a0 * b1; c0_2 += a0 * b2; c0_3 += a0 * b3;
                c1_0 += a1 * b0; c1_1 += a1 * b1; c1_2 += a1 * b2; c1_3 += a1 * b3;
                c2_0 += a2 * b0; c2_1 += a2 * b1; c2_2 += a2 * b2; c2_3 += a2 * b3;
                c3_0 += a3 * b0; c3_1 += a3 * b1; c3_2 += a3 * b2; c3_3 += a3 * b3;
            }
            ctx.localBarrier();
        }
        int cBase = ctx.groupIdz * cZ;
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 0, c0_0);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 8, c0_1);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 16, c0_2);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 24, c0_3);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 8, j0 + lx + 0, c1_0);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 8, j0 + lx + 8, c1_1);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 8, j0 + lx + 16, c1_2);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 8, j0 + lx + 24, c1_3);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 0, c2_0);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 8, c2_1);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 16, c2_2);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 24, c2_3);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 24, j0 + lx + 0, c3_0);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 24, j0 + lx + 8, c3_1);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 24, j0 + lx + 16, c3_2);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 24, j0 + lx + 24, c3_3);
    }

    public static void gemm64(KernelContext ctx, float[] a, float[] b, float[] bias, float[] c, int m, int n, int k,
                              int lda, int ldb, int ldc, int flags, int aZ, int bZ, int cZ) {
        // 64 x 64 outputs per work-group of 16 x 16, 4 x 4 per work-item; K slices of 16.
        float[] as = ctx.allocateFloatLocalArray(1040);
        float[] bs = ctx.allocateFloatLocalArray(1040);
        int lx = ctx.localIdx;
        int ly = ctx.localIdy;
        int lid = ly * 16 + lx;
        int i0 = ctx.groupIdy * 64;
        int j0 = ctx.groupIdx * 64;
        int aBase = ctx.groupIdz * aZ;
        int bBase = ctx.groupIdz * bZ;
        int transA = flags & TRANS_A;
        int transB = flags & TRANS_B;
        float c0_0 = 0f; float c0_1 = 0f; float c0_2 = 0f; float c0_3 = 0f;
        float c1_0 = 0f; float c1_1 = 0f; float c1_2 = 0f; float c1_3 = 0f;
        float c2_0 = 0f; float c2_1 = 0f; float c2_2 = 0f; float c2_3 = 0f;
        float c3_0 = 0f; float c3_1 = 0f; float c3_2 = 0f; float c3_3 = 0f;
        for (int k0 = 0; k0 < k; k0 += 16) {
            for (int e = lid; e < 1024; e += 256) {
                as[aSlot(e, transA, 64, 16, 65)] = aLoad(a, e, transA, aBase, lda, i0, k0, m, k, 64, 16);
            }
            for (int e = lid; e < 1024; e += 256) {
                bs[bSlot(e, transB, 64, 16, 65)] = bLoad(b, e, transB, bBase, ldb, j0, k0, n, k, 64, 16);
            }
            ctx.localBarrier();
            for (int l = 0; l < 16; l++) {
                int ao = l * 65 + ly;
                int bo = l * 65 + lx;
                float a0 = as[ao + 0];
                float a1 = as[ao + 16];
                float a2 = as[ao + 32];
                float a3 = as[ao + 48];
                float b0 = bs[bo + 0];
                float b1 = bs[bo + 16];
                float b2 = bs[bo + 32];
                float b3 = bs[bo + 48];
                c0_0 += a0 * b0; c0_1 += a0 * b1; c0_2 += a0 * b2; c0_3 += a0 * b3;
                c1_0 += a1 * b0; c1_1 += a1 * b1; c1_2 += a1 * b2; c1_3 += a1 * b3;
                c2_0 += a2 * b0; c2_1 += a2 * b1; c2_2 += a2 * b2; c2_3 += a2 * b3;
                c3_0 += a3 * b0; c3_1 += a3 * b1; c3_2 += a3 * b2; c3_3 += a3 * b3;
            }
            ctx.localBarrier();
        }
        int cBase = ctx.groupIdz * cZ;
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 0, c0_0);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 16, c0_1);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 32, c0_2);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 48, c0_3);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 0, c1_0);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 16, c1_1);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 32, c1_2);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 48, c1_3);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 0, c2_0);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 16, c2_1);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 32, c2_2);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 48, c2_3);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 0, c3_0);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 16, c3_1);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 32, c3_2);
        put(c, bias, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 48, c3_3);
    }

    // ---- END GENERATED
}
