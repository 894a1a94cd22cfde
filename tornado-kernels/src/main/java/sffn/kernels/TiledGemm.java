package sffn.kernels;

import uk.ac.manchester.tornado.api.KernelContext;

/**
 * Register-tiled GEMM for GPUs (KernelContext): one strided kernel serves the dense matmul's
 * three products and the block-diagonal batched ones, in a BLAS-like form over {@code z}
 * independent problems (the blocks; 1 for a dense matmul):
 *
 * <pre>
 *   C_z[i, j] (+)= sum_l opA_z(i, l) opB_z(l, j) (+ bias[biasOff + j])        i < m, j < n, l < k
 *   opA_z(i, l) = a[z aZ + i lda + l]          or, transposed, a[z aZ + l lda + i]
 *   opB_z(l, j) = b[bOff + z bZ + l ldb + j]   or, transposed, b[bOff + z bZ + j ldb + l]
 *   C_z[i, j]   = c[cOff + z cZ + i ldc + j]
 * </pre>
 *
 * {@code flags}: {@link #TRANS_A} | {@link #TRANS_B} | {@link #ACCUMULATE} | {@link #BIAS} |
 * {@link #STACKED_C}. The offsets place a weight, its bias or its gradient inside a larger array
 * (parameters kept in one array per kind on a device); a task takes at most 15 arguments, so the
 * block strides are not arguments but follow from the layout of a block-diagonal product
 * ({@link #aStride}, {@link #bStride}, {@link #cStride}).
 *
 * <p>Each shape also has an {@code ...Epilogue} twin for one problem, {@code C = A B^T}, whose
 * outputs go through the forward's fused epilogues instead ({@link #GELU}: the MLP's activation
 * written beside the pre-activation; {@link #BLEND}: the self-guided blend of the guide's product
 * into the structured output): it trades the leading dimensions and C's offset for the
 * activation and scalar arrays and the switch slot.
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
    /** Epilogue kernels: also {@code act = gelu(C)} (C keeps the pre-activation, for the backward). */
    public static final int GELU = 16;
    /**
     * Epilogue kernels: {@code act = AB} and {@code C = alpha act + (1 - alpha) C} with
     * {@code alpha = scalars[GUIDE_ALPHA]} while the guide switch {@code scalars[slot]} is on; C stays
     * while it is off (the self-guided blend).
     */
    public static final int BLEND = 32;
    /**
     * The blocks of C lie one after another ({@code m x n} each: a block-diagonal weight's
     * gradient) and those of B side by side ({@code n} columns each). Without it, B's blocks lie
     * one after another ({@code n x k} each: a block-diagonal weight) and C's side by side. A's
     * always lie side by side.
     */
    public static final int STACKED_C = 64;

    private TiledGemm() {
    }

    /** A tile shape: output tile BM x BN, K slice TK, work-group TX x TY. */
    public enum Tiles {
        /** 32 x 32 outputs, 8 x 8 work-items of 4 x 4: devices with little local memory. */
        T32(32, 32, 16, 8, 8),
        /** 64 x 64 outputs, 16 x 16 work-items of 4 x 4: GPUs before tuning. */
        T64(64, 64, 16, 16, 16),
        /** 64 x 128 outputs, 16 x 16 work-items of 4 x 8, K slices of 8. */
        T64X128(64, 128, 8, 16, 16),
        /** 128 x 64 outputs, 16 x 16 work-items of 8 x 4, K slices of 8. */
        T128X64(128, 64, 8, 16, 16),
        /** 128 x 128 outputs, 16 x 16 work-items of 8 x 8, K slices of 8: large matrices; CPU devices (PoCL). */
        T128(128, 128, 8, 16, 16);

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

    /** Floats from one block of A to the next: its rows' width (side by side in a wider matrix). */
    public static int aStride(int flags, int m, int k) {
        return (flags & TRANS_A) != 0 ? m : k;
    }

    /** Floats from one block of B to the next (see {@link #STACKED_C}). */
    public static int bStride(int flags, int n, int k) {
        return (flags & STACKED_C) != 0 ? n : n * k;
    }

    /** Floats from one block of C to the next (see {@link #STACKED_C}). */
    public static int cStride(int flags, int m, int n) {
        return (flags & STACKED_C) != 0 ? m * n : n;
    }

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
    private static void put(float[] c, float[] bias, int biasOff, int flags, int m, int n, int ldc, int cBase, int i, int j,
                            float s) {
        if (i < m && j < n) {
            float v = s;
            if ((flags & BIAS) != 0) {
                v += bias[biasOff + j];
            }
            int o = cBase + i * ldc + j;
            if ((flags & ACCUMULATE) != 0) {
                v += c[o];
            }
            c[o] = v;
        }
    }

    /** The blend's guide weight: {@code scalars[GUIDE_ALPHA]} with {@link #BLEND} and the switch on, else -1 (no blend). */
    private static float guideAlpha(float[] scalars, int flags, int slot) {
        float alpha = -1f;
        if ((flags & BLEND) != 0) {
            if (scalars[slot] != 0f) {
                alpha = scalars[StepScalars.GUIDE_ALPHA];
            }
        }
        return alpha;
    }

    /**
     * Stores one output of an epilogue kernel (inside the matrix only): with {@link #BLEND}, the
     * product into {@code act} (the guide's product buffer) and blended into C as
     * {@code Blend.forward} does; otherwise with the bias and, with {@link #GELU}, its activation
     * into {@code act} as {@code Gelu.forward} computes it.
     */
    private static void putEpilogue(float[] c, float[] bias, int biasOff, float[] act, float alpha, int flags, int m, int n,
                                    int ldc, int i, int j, float s) {
        if (i < m && j < n) {
            int o = i * ldc + j;
            if ((flags & BLEND) != 0) {
                act[o] = s;
                if (alpha >= 0f) {
                    c[o] = alpha * s + (1f - alpha) * c[o];
                }
            } else {
                float v = s;
                if ((flags & BIAS) != 0) {
                    v += bias[biasOff + j];
                }
                c[o] = v;
                if ((flags & GELU) != 0) {
                    act[o] = Gelu.of(v);
                }
            }
        }
    }

    // ---- BEGIN GENERATED by scripts/gen-tiled-gemm (do not edit by hand) ----

    public static void gemm32(KernelContext ctx, float[] a, float[] b, float[] bias, float[] c, int m, int n, int k,
                              int lda, int ldb, int ldc, int flags, int bOff, int biasOff, int cOff) {
        // 32 x 32 outputs per work-group of 8 x 8, 4 x 4 per work-item; K slices of 16.
        float[] as = ctx.allocateFloatLocalArray(528);
        float[] bs = ctx.allocateFloatLocalArray(528);
        int lx = ctx.localIdx;
        int ly = ctx.localIdy;
        int lid = ly * 8 + lx;
        int i0 = ctx.groupIdy * 32;
        int j0 = ctx.groupIdx * 32;
        int aBase = ctx.groupIdz * aStride(flags, m, k);
        int bBase = bOff + ctx.groupIdz * bStride(flags, n, k);
        int transA = flags & TRANS_A;
        int transB = flags & TRANS_B;
        float c0_0 = 0f; float c0_1 = 0f; float c0_2 = 0f; float c0_3 = 0f;
        float c1_0 = 0f; float c1_1 = 0f; float c1_2 = 0f; float c1_3 = 0f;
        float c2_0 = 0f; float c2_1 = 0f; float c2_2 = 0f; float c2_3 = 0f;
        float c3_0 = 0f; float c3_1 = 0f; float c3_2 = 0f; float c3_3 = 0f;
        // k plus a term the compiler cannot fold (always 0): see the note at SHAPES.
        int kEnd = k + Math.min(lid, 0);
        for (int k0 = 0; k0 < kEnd; k0 += 16) {
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
        int cBase = cOff + ctx.groupIdz * cStride(flags, m, n);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 0, c0_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 8, c0_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 16, c0_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 24, c0_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 8, j0 + lx + 0, c1_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 8, j0 + lx + 8, c1_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 8, j0 + lx + 16, c1_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 8, j0 + lx + 24, c1_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 0, c2_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 8, c2_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 16, c2_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 24, c2_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 24, j0 + lx + 0, c3_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 24, j0 + lx + 8, c3_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 24, j0 + lx + 16, c3_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 24, j0 + lx + 24, c3_3);
    }

    public static void gemm64(KernelContext ctx, float[] a, float[] b, float[] bias, float[] c, int m, int n, int k,
                              int lda, int ldb, int ldc, int flags, int bOff, int biasOff, int cOff) {
        // 64 x 64 outputs per work-group of 16 x 16, 4 x 4 per work-item; K slices of 16.
        float[] as = ctx.allocateFloatLocalArray(1040);
        float[] bs = ctx.allocateFloatLocalArray(1040);
        int lx = ctx.localIdx;
        int ly = ctx.localIdy;
        int lid = ly * 16 + lx;
        int i0 = ctx.groupIdy * 64;
        int j0 = ctx.groupIdx * 64;
        int aBase = ctx.groupIdz * aStride(flags, m, k);
        int bBase = bOff + ctx.groupIdz * bStride(flags, n, k);
        int transA = flags & TRANS_A;
        int transB = flags & TRANS_B;
        float c0_0 = 0f; float c0_1 = 0f; float c0_2 = 0f; float c0_3 = 0f;
        float c1_0 = 0f; float c1_1 = 0f; float c1_2 = 0f; float c1_3 = 0f;
        float c2_0 = 0f; float c2_1 = 0f; float c2_2 = 0f; float c2_3 = 0f;
        float c3_0 = 0f; float c3_1 = 0f; float c3_2 = 0f; float c3_3 = 0f;
        // k plus a term the compiler cannot fold (always 0): see the note at SHAPES.
        int kEnd = k + Math.min(lid, 0);
        for (int k0 = 0; k0 < kEnd; k0 += 16) {
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
        int cBase = cOff + ctx.groupIdz * cStride(flags, m, n);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 0, c0_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 16, c0_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 32, c0_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 48, c0_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 0, c1_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 16, c1_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 32, c1_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 48, c1_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 0, c2_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 16, c2_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 32, c2_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 48, c2_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 0, c3_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 16, c3_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 32, c3_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 48, c3_3);
    }

    public static void gemm64x128(KernelContext ctx, float[] a, float[] b, float[] bias, float[] c, int m, int n, int k,
                              int lda, int ldb, int ldc, int flags, int bOff, int biasOff, int cOff) {
        // 64 x 128 outputs per work-group of 16 x 16, 4 x 8 per work-item; K slices of 8.
        float[] as = ctx.allocateFloatLocalArray(520);
        float[] bs = ctx.allocateFloatLocalArray(1032);
        int lx = ctx.localIdx;
        int ly = ctx.localIdy;
        int lid = ly * 16 + lx;
        int i0 = ctx.groupIdy * 64;
        int j0 = ctx.groupIdx * 128;
        int aBase = ctx.groupIdz * aStride(flags, m, k);
        int bBase = bOff + ctx.groupIdz * bStride(flags, n, k);
        int transA = flags & TRANS_A;
        int transB = flags & TRANS_B;
        float c0_0 = 0f; float c0_1 = 0f; float c0_2 = 0f; float c0_3 = 0f; float c0_4 = 0f; float c0_5 = 0f; float c0_6 = 0f; float c0_7 = 0f;
        float c1_0 = 0f; float c1_1 = 0f; float c1_2 = 0f; float c1_3 = 0f; float c1_4 = 0f; float c1_5 = 0f; float c1_6 = 0f; float c1_7 = 0f;
        float c2_0 = 0f; float c2_1 = 0f; float c2_2 = 0f; float c2_3 = 0f; float c2_4 = 0f; float c2_5 = 0f; float c2_6 = 0f; float c2_7 = 0f;
        float c3_0 = 0f; float c3_1 = 0f; float c3_2 = 0f; float c3_3 = 0f; float c3_4 = 0f; float c3_5 = 0f; float c3_6 = 0f; float c3_7 = 0f;
        // k plus a term the compiler cannot fold (always 0): see the note at SHAPES.
        int kEnd = k + Math.min(lid, 0);
        for (int k0 = 0; k0 < kEnd; k0 += 8) {
            for (int e = lid; e < 512; e += 256) {
                as[aSlot(e, transA, 64, 8, 65)] = aLoad(a, e, transA, aBase, lda, i0, k0, m, k, 64, 8);
            }
            for (int e = lid; e < 1024; e += 256) {
                bs[bSlot(e, transB, 128, 8, 129)] = bLoad(b, e, transB, bBase, ldb, j0, k0, n, k, 128, 8);
            }
            ctx.localBarrier();
            for (int l = 0; l < 8; l++) {
                int ao = l * 65 + ly;
                int bo = l * 129 + lx;
                float a0 = as[ao + 0];
                float a1 = as[ao + 16];
                float a2 = as[ao + 32];
                float a3 = as[ao + 48];
                float b0 = bs[bo + 0];
                float b1 = bs[bo + 16];
                float b2 = bs[bo + 32];
                float b3 = bs[bo + 48];
                float b4 = bs[bo + 64];
                float b5 = bs[bo + 80];
                float b6 = bs[bo + 96];
                float b7 = bs[bo + 112];
                c0_0 += a0 * b0; c0_1 += a0 * b1; c0_2 += a0 * b2; c0_3 += a0 * b3; c0_4 += a0 * b4; c0_5 += a0 * b5; c0_6 += a0 * b6; c0_7 += a0 * b7;
                c1_0 += a1 * b0; c1_1 += a1 * b1; c1_2 += a1 * b2; c1_3 += a1 * b3; c1_4 += a1 * b4; c1_5 += a1 * b5; c1_6 += a1 * b6; c1_7 += a1 * b7;
                c2_0 += a2 * b0; c2_1 += a2 * b1; c2_2 += a2 * b2; c2_3 += a2 * b3; c2_4 += a2 * b4; c2_5 += a2 * b5; c2_6 += a2 * b6; c2_7 += a2 * b7;
                c3_0 += a3 * b0; c3_1 += a3 * b1; c3_2 += a3 * b2; c3_3 += a3 * b3; c3_4 += a3 * b4; c3_5 += a3 * b5; c3_6 += a3 * b6; c3_7 += a3 * b7;
            }
            ctx.localBarrier();
        }
        int cBase = cOff + ctx.groupIdz * cStride(flags, m, n);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 0, c0_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 16, c0_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 32, c0_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 48, c0_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 64, c0_4);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 80, c0_5);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 96, c0_6);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 112, c0_7);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 0, c1_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 16, c1_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 32, c1_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 48, c1_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 64, c1_4);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 80, c1_5);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 96, c1_6);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 112, c1_7);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 0, c2_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 16, c2_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 32, c2_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 48, c2_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 64, c2_4);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 80, c2_5);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 96, c2_6);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 112, c2_7);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 0, c3_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 16, c3_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 32, c3_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 48, c3_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 64, c3_4);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 80, c3_5);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 96, c3_6);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 112, c3_7);
    }

    public static void gemm128x64(KernelContext ctx, float[] a, float[] b, float[] bias, float[] c, int m, int n, int k,
                              int lda, int ldb, int ldc, int flags, int bOff, int biasOff, int cOff) {
        // 128 x 64 outputs per work-group of 16 x 16, 8 x 4 per work-item; K slices of 8.
        float[] as = ctx.allocateFloatLocalArray(1032);
        float[] bs = ctx.allocateFloatLocalArray(520);
        int lx = ctx.localIdx;
        int ly = ctx.localIdy;
        int lid = ly * 16 + lx;
        int i0 = ctx.groupIdy * 128;
        int j0 = ctx.groupIdx * 64;
        int aBase = ctx.groupIdz * aStride(flags, m, k);
        int bBase = bOff + ctx.groupIdz * bStride(flags, n, k);
        int transA = flags & TRANS_A;
        int transB = flags & TRANS_B;
        float c0_0 = 0f; float c0_1 = 0f; float c0_2 = 0f; float c0_3 = 0f;
        float c1_0 = 0f; float c1_1 = 0f; float c1_2 = 0f; float c1_3 = 0f;
        float c2_0 = 0f; float c2_1 = 0f; float c2_2 = 0f; float c2_3 = 0f;
        float c3_0 = 0f; float c3_1 = 0f; float c3_2 = 0f; float c3_3 = 0f;
        float c4_0 = 0f; float c4_1 = 0f; float c4_2 = 0f; float c4_3 = 0f;
        float c5_0 = 0f; float c5_1 = 0f; float c5_2 = 0f; float c5_3 = 0f;
        float c6_0 = 0f; float c6_1 = 0f; float c6_2 = 0f; float c6_3 = 0f;
        float c7_0 = 0f; float c7_1 = 0f; float c7_2 = 0f; float c7_3 = 0f;
        // k plus a term the compiler cannot fold (always 0): see the note at SHAPES.
        int kEnd = k + Math.min(lid, 0);
        for (int k0 = 0; k0 < kEnd; k0 += 8) {
            for (int e = lid; e < 1024; e += 256) {
                as[aSlot(e, transA, 128, 8, 129)] = aLoad(a, e, transA, aBase, lda, i0, k0, m, k, 128, 8);
            }
            for (int e = lid; e < 512; e += 256) {
                bs[bSlot(e, transB, 64, 8, 65)] = bLoad(b, e, transB, bBase, ldb, j0, k0, n, k, 64, 8);
            }
            ctx.localBarrier();
            for (int l = 0; l < 8; l++) {
                int ao = l * 129 + ly;
                int bo = l * 65 + lx;
                float a0 = as[ao + 0];
                float a1 = as[ao + 16];
                float a2 = as[ao + 32];
                float a3 = as[ao + 48];
                float a4 = as[ao + 64];
                float a5 = as[ao + 80];
                float a6 = as[ao + 96];
                float a7 = as[ao + 112];
                float b0 = bs[bo + 0];
                float b1 = bs[bo + 16];
                float b2 = bs[bo + 32];
                float b3 = bs[bo + 48];
                c0_0 += a0 * b0; c0_1 += a0 * b1; c0_2 += a0 * b2; c0_3 += a0 * b3;
                c1_0 += a1 * b0; c1_1 += a1 * b1; c1_2 += a1 * b2; c1_3 += a1 * b3;
                c2_0 += a2 * b0; c2_1 += a2 * b1; c2_2 += a2 * b2; c2_3 += a2 * b3;
                c3_0 += a3 * b0; c3_1 += a3 * b1; c3_2 += a3 * b2; c3_3 += a3 * b3;
                c4_0 += a4 * b0; c4_1 += a4 * b1; c4_2 += a4 * b2; c4_3 += a4 * b3;
                c5_0 += a5 * b0; c5_1 += a5 * b1; c5_2 += a5 * b2; c5_3 += a5 * b3;
                c6_0 += a6 * b0; c6_1 += a6 * b1; c6_2 += a6 * b2; c6_3 += a6 * b3;
                c7_0 += a7 * b0; c7_1 += a7 * b1; c7_2 += a7 * b2; c7_3 += a7 * b3;
            }
            ctx.localBarrier();
        }
        int cBase = cOff + ctx.groupIdz * cStride(flags, m, n);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 0, c0_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 16, c0_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 32, c0_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 48, c0_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 0, c1_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 16, c1_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 32, c1_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 48, c1_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 0, c2_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 16, c2_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 32, c2_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 48, c2_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 0, c3_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 16, c3_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 32, c3_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 48, c3_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 64, j0 + lx + 0, c4_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 64, j0 + lx + 16, c4_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 64, j0 + lx + 32, c4_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 64, j0 + lx + 48, c4_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 80, j0 + lx + 0, c5_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 80, j0 + lx + 16, c5_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 80, j0 + lx + 32, c5_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 80, j0 + lx + 48, c5_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 96, j0 + lx + 0, c6_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 96, j0 + lx + 16, c6_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 96, j0 + lx + 32, c6_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 96, j0 + lx + 48, c6_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 112, j0 + lx + 0, c7_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 112, j0 + lx + 16, c7_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 112, j0 + lx + 32, c7_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 112, j0 + lx + 48, c7_3);
    }

    public static void gemm128(KernelContext ctx, float[] a, float[] b, float[] bias, float[] c, int m, int n, int k,
                              int lda, int ldb, int ldc, int flags, int bOff, int biasOff, int cOff) {
        // 128 x 128 outputs per work-group of 16 x 16, 8 x 8 per work-item; K slices of 8.
        float[] as = ctx.allocateFloatLocalArray(1032);
        float[] bs = ctx.allocateFloatLocalArray(1032);
        int lx = ctx.localIdx;
        int ly = ctx.localIdy;
        int lid = ly * 16 + lx;
        int i0 = ctx.groupIdy * 128;
        int j0 = ctx.groupIdx * 128;
        int aBase = ctx.groupIdz * aStride(flags, m, k);
        int bBase = bOff + ctx.groupIdz * bStride(flags, n, k);
        int transA = flags & TRANS_A;
        int transB = flags & TRANS_B;
        float c0_0 = 0f; float c0_1 = 0f; float c0_2 = 0f; float c0_3 = 0f; float c0_4 = 0f; float c0_5 = 0f; float c0_6 = 0f; float c0_7 = 0f;
        float c1_0 = 0f; float c1_1 = 0f; float c1_2 = 0f; float c1_3 = 0f; float c1_4 = 0f; float c1_5 = 0f; float c1_6 = 0f; float c1_7 = 0f;
        float c2_0 = 0f; float c2_1 = 0f; float c2_2 = 0f; float c2_3 = 0f; float c2_4 = 0f; float c2_5 = 0f; float c2_6 = 0f; float c2_7 = 0f;
        float c3_0 = 0f; float c3_1 = 0f; float c3_2 = 0f; float c3_3 = 0f; float c3_4 = 0f; float c3_5 = 0f; float c3_6 = 0f; float c3_7 = 0f;
        float c4_0 = 0f; float c4_1 = 0f; float c4_2 = 0f; float c4_3 = 0f; float c4_4 = 0f; float c4_5 = 0f; float c4_6 = 0f; float c4_7 = 0f;
        float c5_0 = 0f; float c5_1 = 0f; float c5_2 = 0f; float c5_3 = 0f; float c5_4 = 0f; float c5_5 = 0f; float c5_6 = 0f; float c5_7 = 0f;
        float c6_0 = 0f; float c6_1 = 0f; float c6_2 = 0f; float c6_3 = 0f; float c6_4 = 0f; float c6_5 = 0f; float c6_6 = 0f; float c6_7 = 0f;
        float c7_0 = 0f; float c7_1 = 0f; float c7_2 = 0f; float c7_3 = 0f; float c7_4 = 0f; float c7_5 = 0f; float c7_6 = 0f; float c7_7 = 0f;
        // k plus a term the compiler cannot fold (always 0): see the note at SHAPES.
        int kEnd = k + Math.min(lid, 0);
        for (int k0 = 0; k0 < kEnd; k0 += 8) {
            for (int e = lid; e < 1024; e += 256) {
                as[aSlot(e, transA, 128, 8, 129)] = aLoad(a, e, transA, aBase, lda, i0, k0, m, k, 128, 8);
            }
            for (int e = lid; e < 1024; e += 256) {
                bs[bSlot(e, transB, 128, 8, 129)] = bLoad(b, e, transB, bBase, ldb, j0, k0, n, k, 128, 8);
            }
            ctx.localBarrier();
            for (int l = 0; l < 8; l++) {
                int ao = l * 129 + ly;
                int bo = l * 129 + lx;
                float a0 = as[ao + 0];
                float a1 = as[ao + 16];
                float a2 = as[ao + 32];
                float a3 = as[ao + 48];
                float a4 = as[ao + 64];
                float a5 = as[ao + 80];
                float a6 = as[ao + 96];
                float a7 = as[ao + 112];
                float b0 = bs[bo + 0];
                float b1 = bs[bo + 16];
                float b2 = bs[bo + 32];
                float b3 = bs[bo + 48];
                float b4 = bs[bo + 64];
                float b5 = bs[bo + 80];
                float b6 = bs[bo + 96];
                float b7 = bs[bo + 112];
                c0_0 += a0 * b0; c0_1 += a0 * b1; c0_2 += a0 * b2; c0_3 += a0 * b3; c0_4 += a0 * b4; c0_5 += a0 * b5; c0_6 += a0 * b6; c0_7 += a0 * b7;
                c1_0 += a1 * b0; c1_1 += a1 * b1; c1_2 += a1 * b2; c1_3 += a1 * b3; c1_4 += a1 * b4; c1_5 += a1 * b5; c1_6 += a1 * b6; c1_7 += a1 * b7;
                c2_0 += a2 * b0; c2_1 += a2 * b1; c2_2 += a2 * b2; c2_3 += a2 * b3; c2_4 += a2 * b4; c2_5 += a2 * b5; c2_6 += a2 * b6; c2_7 += a2 * b7;
                c3_0 += a3 * b0; c3_1 += a3 * b1; c3_2 += a3 * b2; c3_3 += a3 * b3; c3_4 += a3 * b4; c3_5 += a3 * b5; c3_6 += a3 * b6; c3_7 += a3 * b7;
                c4_0 += a4 * b0; c4_1 += a4 * b1; c4_2 += a4 * b2; c4_3 += a4 * b3; c4_4 += a4 * b4; c4_5 += a4 * b5; c4_6 += a4 * b6; c4_7 += a4 * b7;
                c5_0 += a5 * b0; c5_1 += a5 * b1; c5_2 += a5 * b2; c5_3 += a5 * b3; c5_4 += a5 * b4; c5_5 += a5 * b5; c5_6 += a5 * b6; c5_7 += a5 * b7;
                c6_0 += a6 * b0; c6_1 += a6 * b1; c6_2 += a6 * b2; c6_3 += a6 * b3; c6_4 += a6 * b4; c6_5 += a6 * b5; c6_6 += a6 * b6; c6_7 += a6 * b7;
                c7_0 += a7 * b0; c7_1 += a7 * b1; c7_2 += a7 * b2; c7_3 += a7 * b3; c7_4 += a7 * b4; c7_5 += a7 * b5; c7_6 += a7 * b6; c7_7 += a7 * b7;
            }
            ctx.localBarrier();
        }
        int cBase = cOff + ctx.groupIdz * cStride(flags, m, n);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 0, c0_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 16, c0_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 32, c0_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 48, c0_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 64, c0_4);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 80, c0_5);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 96, c0_6);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 0, j0 + lx + 112, c0_7);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 0, c1_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 16, c1_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 32, c1_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 48, c1_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 64, c1_4);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 80, c1_5);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 96, c1_6);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 16, j0 + lx + 112, c1_7);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 0, c2_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 16, c2_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 32, c2_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 48, c2_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 64, c2_4);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 80, c2_5);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 96, c2_6);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 32, j0 + lx + 112, c2_7);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 0, c3_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 16, c3_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 32, c3_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 48, c3_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 64, c3_4);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 80, c3_5);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 96, c3_6);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 48, j0 + lx + 112, c3_7);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 64, j0 + lx + 0, c4_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 64, j0 + lx + 16, c4_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 64, j0 + lx + 32, c4_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 64, j0 + lx + 48, c4_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 64, j0 + lx + 64, c4_4);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 64, j0 + lx + 80, c4_5);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 64, j0 + lx + 96, c4_6);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 64, j0 + lx + 112, c4_7);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 80, j0 + lx + 0, c5_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 80, j0 + lx + 16, c5_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 80, j0 + lx + 32, c5_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 80, j0 + lx + 48, c5_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 80, j0 + lx + 64, c5_4);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 80, j0 + lx + 80, c5_5);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 80, j0 + lx + 96, c5_6);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 80, j0 + lx + 112, c5_7);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 96, j0 + lx + 0, c6_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 96, j0 + lx + 16, c6_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 96, j0 + lx + 32, c6_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 96, j0 + lx + 48, c6_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 96, j0 + lx + 64, c6_4);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 96, j0 + lx + 80, c6_5);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 96, j0 + lx + 96, c6_6);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 96, j0 + lx + 112, c6_7);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 112, j0 + lx + 0, c7_0);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 112, j0 + lx + 16, c7_1);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 112, j0 + lx + 32, c7_2);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 112, j0 + lx + 48, c7_3);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 112, j0 + lx + 64, c7_4);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 112, j0 + lx + 80, c7_5);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 112, j0 + lx + 96, c7_6);
        put(c, bias, biasOff, flags, m, n, ldc, cBase, i0 + ly + 112, j0 + lx + 112, c7_7);
    }

    public static void gemm32Epilogue(KernelContext ctx, float[] a, float[] b, float[] bias, float[] c, float[] act,
                              float[] scalars, int m, int n, int k, int flags, int slot, int bOff, int biasOff) {
        // 32 x 32 outputs per work-group of 8 x 8, 4 x 4 per work-item; K slices of 16.
        float[] as = ctx.allocateFloatLocalArray(528);
        float[] bs = ctx.allocateFloatLocalArray(528);
        int lx = ctx.localIdx;
        int ly = ctx.localIdy;
        int lid = ly * 8 + lx;
        int i0 = ctx.groupIdy * 32;
        int j0 = ctx.groupIdx * 32;
        int lda = k;
        int ldb = k;
        int ldc = n;
        int aBase = 0;
        int bBase = bOff;
        int transA = flags & TRANS_A;
        int transB = flags & TRANS_B;
        float c0_0 = 0f; float c0_1 = 0f; float c0_2 = 0f; float c0_3 = 0f;
        float c1_0 = 0f; float c1_1 = 0f; float c1_2 = 0f; float c1_3 = 0f;
        float c2_0 = 0f; float c2_1 = 0f; float c2_2 = 0f; float c2_3 = 0f;
        float c3_0 = 0f; float c3_1 = 0f; float c3_2 = 0f; float c3_3 = 0f;
        // k plus a term the compiler cannot fold (always 0): see the note at SHAPES.
        int kEnd = k + Math.min(lid, 0);
        for (int k0 = 0; k0 < kEnd; k0 += 16) {
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
        float alpha = guideAlpha(scalars, flags, slot);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 0, c0_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 8, c0_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 16, c0_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 24, c0_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 8, j0 + lx + 0, c1_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 8, j0 + lx + 8, c1_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 8, j0 + lx + 16, c1_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 8, j0 + lx + 24, c1_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 0, c2_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 8, c2_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 16, c2_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 24, c2_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 24, j0 + lx + 0, c3_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 24, j0 + lx + 8, c3_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 24, j0 + lx + 16, c3_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 24, j0 + lx + 24, c3_3);
    }

    public static void gemm64Epilogue(KernelContext ctx, float[] a, float[] b, float[] bias, float[] c, float[] act,
                              float[] scalars, int m, int n, int k, int flags, int slot, int bOff, int biasOff) {
        // 64 x 64 outputs per work-group of 16 x 16, 4 x 4 per work-item; K slices of 16.
        float[] as = ctx.allocateFloatLocalArray(1040);
        float[] bs = ctx.allocateFloatLocalArray(1040);
        int lx = ctx.localIdx;
        int ly = ctx.localIdy;
        int lid = ly * 16 + lx;
        int i0 = ctx.groupIdy * 64;
        int j0 = ctx.groupIdx * 64;
        int lda = k;
        int ldb = k;
        int ldc = n;
        int aBase = 0;
        int bBase = bOff;
        int transA = flags & TRANS_A;
        int transB = flags & TRANS_B;
        float c0_0 = 0f; float c0_1 = 0f; float c0_2 = 0f; float c0_3 = 0f;
        float c1_0 = 0f; float c1_1 = 0f; float c1_2 = 0f; float c1_3 = 0f;
        float c2_0 = 0f; float c2_1 = 0f; float c2_2 = 0f; float c2_3 = 0f;
        float c3_0 = 0f; float c3_1 = 0f; float c3_2 = 0f; float c3_3 = 0f;
        // k plus a term the compiler cannot fold (always 0): see the note at SHAPES.
        int kEnd = k + Math.min(lid, 0);
        for (int k0 = 0; k0 < kEnd; k0 += 16) {
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
        float alpha = guideAlpha(scalars, flags, slot);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 0, c0_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 16, c0_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 32, c0_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 48, c0_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 0, c1_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 16, c1_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 32, c1_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 48, c1_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 32, j0 + lx + 0, c2_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 32, j0 + lx + 16, c2_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 32, j0 + lx + 32, c2_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 32, j0 + lx + 48, c2_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 48, j0 + lx + 0, c3_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 48, j0 + lx + 16, c3_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 48, j0 + lx + 32, c3_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 48, j0 + lx + 48, c3_3);
    }

    public static void gemm64x128Epilogue(KernelContext ctx, float[] a, float[] b, float[] bias, float[] c, float[] act,
                              float[] scalars, int m, int n, int k, int flags, int slot, int bOff, int biasOff) {
        // 64 x 128 outputs per work-group of 16 x 16, 4 x 8 per work-item; K slices of 8.
        float[] as = ctx.allocateFloatLocalArray(520);
        float[] bs = ctx.allocateFloatLocalArray(1032);
        int lx = ctx.localIdx;
        int ly = ctx.localIdy;
        int lid = ly * 16 + lx;
        int i0 = ctx.groupIdy * 64;
        int j0 = ctx.groupIdx * 128;
        int lda = k;
        int ldb = k;
        int ldc = n;
        int aBase = 0;
        int bBase = bOff;
        int transA = flags & TRANS_A;
        int transB = flags & TRANS_B;
        float c0_0 = 0f; float c0_1 = 0f; float c0_2 = 0f; float c0_3 = 0f; float c0_4 = 0f; float c0_5 = 0f; float c0_6 = 0f; float c0_7 = 0f;
        float c1_0 = 0f; float c1_1 = 0f; float c1_2 = 0f; float c1_3 = 0f; float c1_4 = 0f; float c1_5 = 0f; float c1_6 = 0f; float c1_7 = 0f;
        float c2_0 = 0f; float c2_1 = 0f; float c2_2 = 0f; float c2_3 = 0f; float c2_4 = 0f; float c2_5 = 0f; float c2_6 = 0f; float c2_7 = 0f;
        float c3_0 = 0f; float c3_1 = 0f; float c3_2 = 0f; float c3_3 = 0f; float c3_4 = 0f; float c3_5 = 0f; float c3_6 = 0f; float c3_7 = 0f;
        // k plus a term the compiler cannot fold (always 0): see the note at SHAPES.
        int kEnd = k + Math.min(lid, 0);
        for (int k0 = 0; k0 < kEnd; k0 += 8) {
            for (int e = lid; e < 512; e += 256) {
                as[aSlot(e, transA, 64, 8, 65)] = aLoad(a, e, transA, aBase, lda, i0, k0, m, k, 64, 8);
            }
            for (int e = lid; e < 1024; e += 256) {
                bs[bSlot(e, transB, 128, 8, 129)] = bLoad(b, e, transB, bBase, ldb, j0, k0, n, k, 128, 8);
            }
            ctx.localBarrier();
            for (int l = 0; l < 8; l++) {
                int ao = l * 65 + ly;
                int bo = l * 129 + lx;
                float a0 = as[ao + 0];
                float a1 = as[ao + 16];
                float a2 = as[ao + 32];
                float a3 = as[ao + 48];
                float b0 = bs[bo + 0];
                float b1 = bs[bo + 16];
                float b2 = bs[bo + 32];
                float b3 = bs[bo + 48];
                float b4 = bs[bo + 64];
                float b5 = bs[bo + 80];
                float b6 = bs[bo + 96];
                float b7 = bs[bo + 112];
                c0_0 += a0 * b0; c0_1 += a0 * b1; c0_2 += a0 * b2; c0_3 += a0 * b3; c0_4 += a0 * b4; c0_5 += a0 * b5; c0_6 += a0 * b6; c0_7 += a0 * b7;
                c1_0 += a1 * b0; c1_1 += a1 * b1; c1_2 += a1 * b2; c1_3 += a1 * b3; c1_4 += a1 * b4; c1_5 += a1 * b5; c1_6 += a1 * b6; c1_7 += a1 * b7;
                c2_0 += a2 * b0; c2_1 += a2 * b1; c2_2 += a2 * b2; c2_3 += a2 * b3; c2_4 += a2 * b4; c2_5 += a2 * b5; c2_6 += a2 * b6; c2_7 += a2 * b7;
                c3_0 += a3 * b0; c3_1 += a3 * b1; c3_2 += a3 * b2; c3_3 += a3 * b3; c3_4 += a3 * b4; c3_5 += a3 * b5; c3_6 += a3 * b6; c3_7 += a3 * b7;
            }
            ctx.localBarrier();
        }
        float alpha = guideAlpha(scalars, flags, slot);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 0, c0_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 16, c0_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 32, c0_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 48, c0_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 64, c0_4);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 80, c0_5);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 96, c0_6);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 112, c0_7);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 0, c1_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 16, c1_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 32, c1_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 48, c1_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 64, c1_4);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 80, c1_5);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 96, c1_6);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 112, c1_7);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 32, j0 + lx + 0, c2_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 32, j0 + lx + 16, c2_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 32, j0 + lx + 32, c2_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 32, j0 + lx + 48, c2_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 32, j0 + lx + 64, c2_4);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 32, j0 + lx + 80, c2_5);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 32, j0 + lx + 96, c2_6);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 32, j0 + lx + 112, c2_7);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 48, j0 + lx + 0, c3_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 48, j0 + lx + 16, c3_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 48, j0 + lx + 32, c3_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 48, j0 + lx + 48, c3_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 48, j0 + lx + 64, c3_4);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 48, j0 + lx + 80, c3_5);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 48, j0 + lx + 96, c3_6);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 48, j0 + lx + 112, c3_7);
    }

    public static void gemm128x64Epilogue(KernelContext ctx, float[] a, float[] b, float[] bias, float[] c, float[] act,
                              float[] scalars, int m, int n, int k, int flags, int slot, int bOff, int biasOff) {
        // 128 x 64 outputs per work-group of 16 x 16, 8 x 4 per work-item; K slices of 8.
        float[] as = ctx.allocateFloatLocalArray(1032);
        float[] bs = ctx.allocateFloatLocalArray(520);
        int lx = ctx.localIdx;
        int ly = ctx.localIdy;
        int lid = ly * 16 + lx;
        int i0 = ctx.groupIdy * 128;
        int j0 = ctx.groupIdx * 64;
        int lda = k;
        int ldb = k;
        int ldc = n;
        int aBase = 0;
        int bBase = bOff;
        int transA = flags & TRANS_A;
        int transB = flags & TRANS_B;
        float c0_0 = 0f; float c0_1 = 0f; float c0_2 = 0f; float c0_3 = 0f;
        float c1_0 = 0f; float c1_1 = 0f; float c1_2 = 0f; float c1_3 = 0f;
        float c2_0 = 0f; float c2_1 = 0f; float c2_2 = 0f; float c2_3 = 0f;
        float c3_0 = 0f; float c3_1 = 0f; float c3_2 = 0f; float c3_3 = 0f;
        float c4_0 = 0f; float c4_1 = 0f; float c4_2 = 0f; float c4_3 = 0f;
        float c5_0 = 0f; float c5_1 = 0f; float c5_2 = 0f; float c5_3 = 0f;
        float c6_0 = 0f; float c6_1 = 0f; float c6_2 = 0f; float c6_3 = 0f;
        float c7_0 = 0f; float c7_1 = 0f; float c7_2 = 0f; float c7_3 = 0f;
        // k plus a term the compiler cannot fold (always 0): see the note at SHAPES.
        int kEnd = k + Math.min(lid, 0);
        for (int k0 = 0; k0 < kEnd; k0 += 8) {
            for (int e = lid; e < 1024; e += 256) {
                as[aSlot(e, transA, 128, 8, 129)] = aLoad(a, e, transA, aBase, lda, i0, k0, m, k, 128, 8);
            }
            for (int e = lid; e < 512; e += 256) {
                bs[bSlot(e, transB, 64, 8, 65)] = bLoad(b, e, transB, bBase, ldb, j0, k0, n, k, 64, 8);
            }
            ctx.localBarrier();
            for (int l = 0; l < 8; l++) {
                int ao = l * 129 + ly;
                int bo = l * 65 + lx;
                float a0 = as[ao + 0];
                float a1 = as[ao + 16];
                float a2 = as[ao + 32];
                float a3 = as[ao + 48];
                float a4 = as[ao + 64];
                float a5 = as[ao + 80];
                float a6 = as[ao + 96];
                float a7 = as[ao + 112];
                float b0 = bs[bo + 0];
                float b1 = bs[bo + 16];
                float b2 = bs[bo + 32];
                float b3 = bs[bo + 48];
                c0_0 += a0 * b0; c0_1 += a0 * b1; c0_2 += a0 * b2; c0_3 += a0 * b3;
                c1_0 += a1 * b0; c1_1 += a1 * b1; c1_2 += a1 * b2; c1_3 += a1 * b3;
                c2_0 += a2 * b0; c2_1 += a2 * b1; c2_2 += a2 * b2; c2_3 += a2 * b3;
                c3_0 += a3 * b0; c3_1 += a3 * b1; c3_2 += a3 * b2; c3_3 += a3 * b3;
                c4_0 += a4 * b0; c4_1 += a4 * b1; c4_2 += a4 * b2; c4_3 += a4 * b3;
                c5_0 += a5 * b0; c5_1 += a5 * b1; c5_2 += a5 * b2; c5_3 += a5 * b3;
                c6_0 += a6 * b0; c6_1 += a6 * b1; c6_2 += a6 * b2; c6_3 += a6 * b3;
                c7_0 += a7 * b0; c7_1 += a7 * b1; c7_2 += a7 * b2; c7_3 += a7 * b3;
            }
            ctx.localBarrier();
        }
        float alpha = guideAlpha(scalars, flags, slot);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 0, c0_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 16, c0_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 32, c0_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 48, c0_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 0, c1_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 16, c1_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 32, c1_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 48, c1_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 32, j0 + lx + 0, c2_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 32, j0 + lx + 16, c2_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 32, j0 + lx + 32, c2_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 32, j0 + lx + 48, c2_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 48, j0 + lx + 0, c3_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 48, j0 + lx + 16, c3_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 48, j0 + lx + 32, c3_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 48, j0 + lx + 48, c3_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 64, j0 + lx + 0, c4_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 64, j0 + lx + 16, c4_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 64, j0 + lx + 32, c4_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 64, j0 + lx + 48, c4_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 80, j0 + lx + 0, c5_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 80, j0 + lx + 16, c5_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 80, j0 + lx + 32, c5_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 80, j0 + lx + 48, c5_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 96, j0 + lx + 0, c6_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 96, j0 + lx + 16, c6_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 96, j0 + lx + 32, c6_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 96, j0 + lx + 48, c6_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 112, j0 + lx + 0, c7_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 112, j0 + lx + 16, c7_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 112, j0 + lx + 32, c7_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 112, j0 + lx + 48, c7_3);
    }

    public static void gemm128Epilogue(KernelContext ctx, float[] a, float[] b, float[] bias, float[] c, float[] act,
                              float[] scalars, int m, int n, int k, int flags, int slot, int bOff, int biasOff) {
        // 128 x 128 outputs per work-group of 16 x 16, 8 x 8 per work-item; K slices of 8.
        float[] as = ctx.allocateFloatLocalArray(1032);
        float[] bs = ctx.allocateFloatLocalArray(1032);
        int lx = ctx.localIdx;
        int ly = ctx.localIdy;
        int lid = ly * 16 + lx;
        int i0 = ctx.groupIdy * 128;
        int j0 = ctx.groupIdx * 128;
        int lda = k;
        int ldb = k;
        int ldc = n;
        int aBase = 0;
        int bBase = bOff;
        int transA = flags & TRANS_A;
        int transB = flags & TRANS_B;
        float c0_0 = 0f; float c0_1 = 0f; float c0_2 = 0f; float c0_3 = 0f; float c0_4 = 0f; float c0_5 = 0f; float c0_6 = 0f; float c0_7 = 0f;
        float c1_0 = 0f; float c1_1 = 0f; float c1_2 = 0f; float c1_3 = 0f; float c1_4 = 0f; float c1_5 = 0f; float c1_6 = 0f; float c1_7 = 0f;
        float c2_0 = 0f; float c2_1 = 0f; float c2_2 = 0f; float c2_3 = 0f; float c2_4 = 0f; float c2_5 = 0f; float c2_6 = 0f; float c2_7 = 0f;
        float c3_0 = 0f; float c3_1 = 0f; float c3_2 = 0f; float c3_3 = 0f; float c3_4 = 0f; float c3_5 = 0f; float c3_6 = 0f; float c3_7 = 0f;
        float c4_0 = 0f; float c4_1 = 0f; float c4_2 = 0f; float c4_3 = 0f; float c4_4 = 0f; float c4_5 = 0f; float c4_6 = 0f; float c4_7 = 0f;
        float c5_0 = 0f; float c5_1 = 0f; float c5_2 = 0f; float c5_3 = 0f; float c5_4 = 0f; float c5_5 = 0f; float c5_6 = 0f; float c5_7 = 0f;
        float c6_0 = 0f; float c6_1 = 0f; float c6_2 = 0f; float c6_3 = 0f; float c6_4 = 0f; float c6_5 = 0f; float c6_6 = 0f; float c6_7 = 0f;
        float c7_0 = 0f; float c7_1 = 0f; float c7_2 = 0f; float c7_3 = 0f; float c7_4 = 0f; float c7_5 = 0f; float c7_6 = 0f; float c7_7 = 0f;
        // k plus a term the compiler cannot fold (always 0): see the note at SHAPES.
        int kEnd = k + Math.min(lid, 0);
        for (int k0 = 0; k0 < kEnd; k0 += 8) {
            for (int e = lid; e < 1024; e += 256) {
                as[aSlot(e, transA, 128, 8, 129)] = aLoad(a, e, transA, aBase, lda, i0, k0, m, k, 128, 8);
            }
            for (int e = lid; e < 1024; e += 256) {
                bs[bSlot(e, transB, 128, 8, 129)] = bLoad(b, e, transB, bBase, ldb, j0, k0, n, k, 128, 8);
            }
            ctx.localBarrier();
            for (int l = 0; l < 8; l++) {
                int ao = l * 129 + ly;
                int bo = l * 129 + lx;
                float a0 = as[ao + 0];
                float a1 = as[ao + 16];
                float a2 = as[ao + 32];
                float a3 = as[ao + 48];
                float a4 = as[ao + 64];
                float a5 = as[ao + 80];
                float a6 = as[ao + 96];
                float a7 = as[ao + 112];
                float b0 = bs[bo + 0];
                float b1 = bs[bo + 16];
                float b2 = bs[bo + 32];
                float b3 = bs[bo + 48];
                float b4 = bs[bo + 64];
                float b5 = bs[bo + 80];
                float b6 = bs[bo + 96];
                float b7 = bs[bo + 112];
                c0_0 += a0 * b0; c0_1 += a0 * b1; c0_2 += a0 * b2; c0_3 += a0 * b3; c0_4 += a0 * b4; c0_5 += a0 * b5; c0_6 += a0 * b6; c0_7 += a0 * b7;
                c1_0 += a1 * b0; c1_1 += a1 * b1; c1_2 += a1 * b2; c1_3 += a1 * b3; c1_4 += a1 * b4; c1_5 += a1 * b5; c1_6 += a1 * b6; c1_7 += a1 * b7;
                c2_0 += a2 * b0; c2_1 += a2 * b1; c2_2 += a2 * b2; c2_3 += a2 * b3; c2_4 += a2 * b4; c2_5 += a2 * b5; c2_6 += a2 * b6; c2_7 += a2 * b7;
                c3_0 += a3 * b0; c3_1 += a3 * b1; c3_2 += a3 * b2; c3_3 += a3 * b3; c3_4 += a3 * b4; c3_5 += a3 * b5; c3_6 += a3 * b6; c3_7 += a3 * b7;
                c4_0 += a4 * b0; c4_1 += a4 * b1; c4_2 += a4 * b2; c4_3 += a4 * b3; c4_4 += a4 * b4; c4_5 += a4 * b5; c4_6 += a4 * b6; c4_7 += a4 * b7;
                c5_0 += a5 * b0; c5_1 += a5 * b1; c5_2 += a5 * b2; c5_3 += a5 * b3; c5_4 += a5 * b4; c5_5 += a5 * b5; c5_6 += a5 * b6; c5_7 += a5 * b7;
                c6_0 += a6 * b0; c6_1 += a6 * b1; c6_2 += a6 * b2; c6_3 += a6 * b3; c6_4 += a6 * b4; c6_5 += a6 * b5; c6_6 += a6 * b6; c6_7 += a6 * b7;
                c7_0 += a7 * b0; c7_1 += a7 * b1; c7_2 += a7 * b2; c7_3 += a7 * b3; c7_4 += a7 * b4; c7_5 += a7 * b5; c7_6 += a7 * b6; c7_7 += a7 * b7;
            }
            ctx.localBarrier();
        }
        float alpha = guideAlpha(scalars, flags, slot);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 0, c0_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 16, c0_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 32, c0_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 48, c0_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 64, c0_4);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 80, c0_5);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 96, c0_6);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 0, j0 + lx + 112, c0_7);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 0, c1_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 16, c1_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 32, c1_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 48, c1_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 64, c1_4);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 80, c1_5);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 96, c1_6);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 16, j0 + lx + 112, c1_7);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 32, j0 + lx + 0, c2_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 32, j0 + lx + 16, c2_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 32, j0 + lx + 32, c2_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 32, j0 + lx + 48, c2_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 32, j0 + lx + 64, c2_4);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 32, j0 + lx + 80, c2_5);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 32, j0 + lx + 96, c2_6);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 32, j0 + lx + 112, c2_7);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 48, j0 + lx + 0, c3_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 48, j0 + lx + 16, c3_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 48, j0 + lx + 32, c3_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 48, j0 + lx + 48, c3_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 48, j0 + lx + 64, c3_4);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 48, j0 + lx + 80, c3_5);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 48, j0 + lx + 96, c3_6);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 48, j0 + lx + 112, c3_7);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 64, j0 + lx + 0, c4_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 64, j0 + lx + 16, c4_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 64, j0 + lx + 32, c4_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 64, j0 + lx + 48, c4_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 64, j0 + lx + 64, c4_4);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 64, j0 + lx + 80, c4_5);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 64, j0 + lx + 96, c4_6);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 64, j0 + lx + 112, c4_7);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 80, j0 + lx + 0, c5_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 80, j0 + lx + 16, c5_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 80, j0 + lx + 32, c5_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 80, j0 + lx + 48, c5_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 80, j0 + lx + 64, c5_4);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 80, j0 + lx + 80, c5_5);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 80, j0 + lx + 96, c5_6);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 80, j0 + lx + 112, c5_7);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 96, j0 + lx + 0, c6_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 96, j0 + lx + 16, c6_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 96, j0 + lx + 32, c6_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 96, j0 + lx + 48, c6_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 96, j0 + lx + 64, c6_4);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 96, j0 + lx + 80, c6_5);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 96, j0 + lx + 96, c6_6);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 96, j0 + lx + 112, c6_7);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 112, j0 + lx + 0, c7_0);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 112, j0 + lx + 16, c7_1);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 112, j0 + lx + 32, c7_2);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 112, j0 + lx + 48, c7_3);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 112, j0 + lx + 64, c7_4);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 112, j0 + lx + 80, c7_5);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 112, j0 + lx + 96, c7_6);
        putEpilogue(c, bias, biasOff, act, alpha, flags, m, n, ldc, i0 + ly + 112, j0 + lx + 112, c7_7);
    }

    // ---- END GENERATED
}
