package sffn.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The attention forward's CPU body fused in registers (AVX-512, head dim a multiple of 16): for
 * a strip of {@link #MR} queries and a block of {@link #KB} keys, the scores {@code S = Q K^T}
 * are summed in 18 vector registers, turned into probabilities by an online softmax in L1, and
 * multiplied into the strip's output rows by a 6 x 64 register tile ({@code O = O corr + P V});
 * no score block leaves L1 and no GEMM call packs an operand per block. Each key/value head's
 * keys are first transposed once into panels of {@link #KB} keys ({@code [panel, d, KB]}, zero
 * beyond T) and its values copied into contiguous rows, read by every query tile and every query
 * head of its group (rows a full qkv row apart fall into few L1 sets); a query tile's rows are
 * packed per strip ({@link #packStrips}).
 *
 * <p>Layout and semantics are {@code Attention.forward}'s: {@code qkv [B*T, (nq + 2 nkv) d]},
 * {@code out [B*T, nq d]}, {@code lse [B, nq, T]}. Work items are (batch, head, query tile):
 * the tiles of a head in turn, its last tiles (the most keys) first, so that the threads read
 * one head's keys and values (a quarter of a MiB at T 1024, d 64) from their own L2 rather than
 * each tile a different head's from L3 (head by head, 5% faster at T 1024). Within an item, key
 * blocks in order and lanes of the denominator summed in lane order at the end, so results do
 * not depend on the thread count.
 */
public final class FusedAttention {
    private static final VectorSpecies<Float> S = Vec.S;
    private static final int L = Vec.L;
    /** Queries per pass of the backward's dK and dV products (their rows stay in L1 for every key group). */
    static final int CHUNK = 64;
    /** Query rows per register strip. */
    static final int MR = 6;
    /** Keys per block: three vectors of scores per query row. */
    static final int KB = 48;
    /** Query rows per work item: 16 strips, whose output and queries stay in L2 across key blocks. */
    static final int TILE = 96;
    /** Output columns per register tile of the P V product: four vectors. */
    private static final int DV = 64;

    /** Lane indices, for the causal mask (indexInRange is not compiled to a compare everywhere). */
    private static final FloatVector IOTA = FloatVector.fromArray(S, iota(), 0);

    private FusedAttention() {
    }

    /** Whether this body serves head dim {@code d} on this machine (32 vector registers of 16 floats). */
    public static boolean fits(int d) {
        return L == 16 && d > 0 && d % L == 0;
    }

    /** The calling thread's transposed keys, grown as needed; read by every thread of one call. */
    private static final Scratch KEYS = new Scratch();
    /**
     * Each thread's scratch: the strip's scores and probabilities [MR, KB], the running max
     * [TILE], the lane-wise denominators [TILE, L] and the strip's corrections [MR], with slack
     * so the next object stays off its last cache line (see DotGemm's SUMS).
     */
    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(
            () -> new float[MR * KB + TILE + TILE * L + MR + 16]);
    private static final int M_OFF = MR * KB;
    private static final int L_OFF = M_OFF + TILE;
    private static final int C_OFF = L_OFF + TILE * L;

    public static void forward(float[] qkv, float[] out, float[] lse, int batch, int seqLen, int nq, int nkv, int d) {
        if (!fits(d)) throw new IllegalArgumentException("FusedAttention: head dim " + d + " needs a multiple of 16 and AVX-512");
        int stride = (nq + 2 * nkv) * d;
        int panels = (seqLen + KB - 1) / KB;
        int perHead = panels * d * KB;
        int valuesOff = batch * nkv * perHead;
        int vSize = chunked(seqLen, d);
        int tiles = (seqLen + TILE - 1) / TILE;
        int group = nq / nkv;
        float scale = 1f / (float) Math.sqrt(d);
        if (batchAtATime(batch, nkv * (perHead + vSize))) {
            Workers.pool().parallelFor(batch, 1, (from, to) -> {
                float[] w = SCRATCH.get();
                float[] kv = BATCH_KEYS.get(nkv * (perHead + vSize));
                for (int b = from; b < to; b++) {
                    for (int g = 0; g < nkv; g++) {
                        transposeKeys(qkv, (b * seqLen) * stride + (nq + g) * d, stride, seqLen, d, kv, g * perHead);
                        packChunks(qkv, (b * seqLen) * stride + (nq + nkv + g) * d, stride, seqLen, d, kv,
                                nkv * perHead + g * vSize);
                    }
                    for (int h = 0; h < nq; h++) {
                        int g = h / group;
                        for (int tile = tiles - 1; tile >= 0; tile--) {
                            int t0 = tile * TILE;
                            queryTile(qkv, out, lse, seqLen, nq, d, stride, scale, b, h, t0,
                                    Math.min(seqLen, t0 + TILE) - t0, kv, g * perHead, nkv * perHead + g * vSize, w);
                        }
                    }
                }
            });
            return;
        }
        float[] keys = KEYS.get(valuesOff + batch * nkv * vSize);
        Workers.pool().parallelFor(batch * nkv, 1, (long) 2 * batch * nkv * seqLen * d, (from, to) -> {
            for (int bg = from; bg < to; bg++) {
                int b = bg / nkv;
                int g = bg - b * nkv;
                transposeKeys(qkv, (b * seqLen) * stride + (nq + g) * d, stride, seqLen, d, keys, bg * perHead);
                packChunks(qkv, (b * seqLen) * stride + (nq + nkv + g) * d, stride, seqLen, d, keys, valuesOff + bg * vSize);
            }
        });
        int heads = batch * nq;
        Workers.pool().parallelFor(heads * tiles, 1, (from, to) -> {
            float[] w = SCRATCH.get();
            for (int item = from; item < to; item++) {
                int bh = item / tiles;
                int tile = tiles - 1 - (item - bh * tiles);
                int b = bh / nq;
                int h = bh - b * nq;
                int bg = b * nkv + h / group;
                int t0 = tile * TILE;
                int rows = Math.min(seqLen, t0 + TILE) - t0;
                queryTile(qkv, out, lse, seqLen, nq, d, stride, scale, b, h, t0, rows, keys, bg * perHead,
                        valuesOff + bg * vSize, w);
            }
        });
    }

    /**
     * Floats (640 KiB) of keys and values of one work item that the batch-at-a-time schedule keeps
     * per thread: within a 1 MiB L2 (this project's AMD VM; 2 MiB on its Intel VM) beside the
     * tiles' own rows. A sequence of B16 T256 d64 with 4 key/value heads needs 544 KiB.
     */
    static final int BATCH_SCRATCH_MAX = 160 * 1024;

    /** Items per thread that {@link #batchAtATime} asks for (tests choose either schedule with it). */
    static volatile int itemsPerThread = 2;

    /** Each thread's keys and values of the sequence it is working on (batch-at-a-time schedule). */
    private static final Scratch BATCH_KEYS = new Scratch(16);

    /**
     * Whether work items are whole sequences, each thread preparing a sequence's keys and values
     * in its own L2 and running every query tile of it at once: when there are sequences enough
     * to keep the threads busy and their keys and values fit. Prepared once for all threads instead,
     * they go out to memory and come back (at B16 T256, preparing them was a third of the forward).
     */
    static boolean batchAtATime(int items, int floatsPerItem) {
        return (long) items >= (long) itemsPerThread * Workers.pool().threads() && floatsPerItem <= BATCH_SCRATCH_MAX;
    }

    private static float[] iota() {
        float[] f = new float[L];
        for (int i = 0; i < L; i++) f[i] = i;
        return f;
    }

    /**
     * Each thread's own rows of output (a query tile's O, a head's dQ), copied out once at the end
     * of a work item: accumulated in place, a head's d columns share their first and last cache
     * lines with the neighbouring heads, which the other threads are writing at the same time.
     */
    private static final Scratch ROWS = new Scratch(16);

    /**
     * {@code kt[ko + (u / KB) d KB + e KB + u % KB] = K[u, e]} for K's rows at
     * {@code src[off + u ld]}, zero for u in [T, panels KB): 16 x 16 blocks transposed in
     * registers ({@link Transpose}), 16 rows read at a time. With a scalar copy, one row at a time
     * from rows a head-width apart in memory (waiting on each row's misses), preparing the keys and
     * values took 16% of the forward at B16 T256; this made the forward 5% and the backward 14%
     * faster there (no change at T 1024).
     */
    private static void transposeKeys(float[] src, int off, int ld, int seqLen, int d, float[] kt, int ko) {
        int panels = (seqLen + KB - 1) / KB;
        for (int p = 0; p < panels; p++) {
            int keys = Math.min(KB, seqLen - p * KB);
            Transpose.transpose(src, off + p * KB * ld, ld, d, keys, kt, ko + p * d * KB, KB, d, KB);
        }
    }

    /** Each thread's P and dS of one key block against all the queries that see it (the backward). */
    private static final Scratch BLOCKS = new Scratch(16);

    /** Each thread's query (and output-gradient) rows packed by {@link #packStrips}. */
    private static final Scratch STRIPS = new Scratch(16);

    /** Each thread's query rows copied whole, on their way to {@link #packStrips}' layout. */
    private static final Scratch GATHER = new Scratch(16);

    /**
     * Rows {@code off + t stride} (t < rows, d floats each) packed per strip of {@link #MR} rows,
     * column-major within the strip: {@code dst[o + (t / MR) MR d + e MR + t % MR]}; a last
     * partial strip repeats its last row. The scores loop then reads a strip's six values of one
     * column at constant offsets. The rows are first copied whole into the thread's
     * {@link #GATHER} ({@link #packChunks}), then transposed from there
     * ({@link #stripsFromChunks}): transposed straight from rows a head-width apart in memory, one
     * scalar load at a time waited on each row's misses (a tenth of the forward at T 1024,
     * against a twentieth).
     */
    private static void packStrips(float[] src, int off, int stride, int rows, int d, float[] dst, int o) {
        float[] rowsBuf = GATHER.get(chunked(rows, d));
        packChunks(src, off, stride, rows, d, rowsBuf, 0);
        stripsFromChunks(rowsBuf, 0, rows, d, dst, o);
    }

    /**
     * {@link #packStrips}' layout from rows already packed by {@link #packChunks} at
     * {@code src[so]} ({@code rows} rows), read from cache.
     */
    private static void stripsFromChunks(float[] src, int so, int rows, int d, float[] dst, int o) {
        for (int s0 = 0; s0 < rows; s0 += MR) {
            int base = o + s0 * d;
            for (int r = 0; r < MR; r++) {
                int t = Math.min(s0 + r, rows - 1);
                for (int e0 = 0; e0 < d; e0 += DV) {
                    int row = so + e0 * rows + t * DV - e0;
                    int n = Math.min(d, e0 + DV);
                    for (int e = e0; e < n; e++) dst[base + e * MR + r] = src[row + e];
                }
            }
        }
    }

    /**
     * The head of work item i of n: the odd heads, then the even ones (no two in a row are
     * neighbours once n > 3). Items handed out in turn run side by side on the threads, and two
     * neighbouring heads share the edge cache lines of every row they write (out, dqkv; a head's
     * d floats rarely start a line): at the same time, those lines move between the cores on
     * each store.
     */
    static int apart(int i, int n) {
        int odd = n / 2;
        return i < odd ? 2 * i + 1 : 2 * (i - odd);
    }

    /** Floats of a head's rows packed by {@link #packChunks}. */
    static int chunked(int seqLen, int d) {
        return (d + DV - 1) / DV * seqLen * DV;
    }

    /**
     * A head's rows ({@code src[off + u stride + e]}, u < seqLen, e < d) contiguous, in chunks of
     * {@link #DV} columns: {@code dst[o + (e / DV) seqLen DV + u DV + e % DV]}. The products that
     * stream rows then step by the constant DV, which lets C2 hoist their range checks (with a
     * stride held in a register it checks every load and runs out of registers).
     */
    static void packChunks(float[] src, int off, int stride, int seqLen, int d, float[] dst, int o) {
        for (int e0 = 0; e0 < d; e0 += DV) {
            int n = Math.min(DV, d - e0);
            int base = o + e0 * seqLen;
            for (int u = 0; u < seqLen; u++) System.arraycopy(src, off + u * stride + e0, dst, base + u * DV, n);
        }
    }

    /**
     * The backward's work per (batch, query head), as {@code Attention.backwardCpu} splits it:
     * {@code delta [B, nq, T]}, the head's dQ in dqkv, and its own dK and dV in
     * {@code part [B, nq, T, 2d]} (dK unscaled, in the first d of each row), for the caller to
     * sum over the group's heads. Per block of 48 keys (in order), for each strip of 6 queries that
     * see it (in order): S and dP in registers from keys and values transposed once per key/value
     * head, then {@code P = exp(scale S - lse)}, {@code dS = P (dP - delta)}, kept for the whole
     * block in a per-thread buffer (in L2); then, strip by strip again, dQ += dS K (3 x 64
     * register tiles). Then the block's dV = P^T dO and dK = dS^T Q, 6 keys x 32 columns at a
     * time, each summed over the block's queries in registers, 64 queries at a time
     * ({@link #transposedTile}): no partial sum of dK or dV is loaded and stored per strip. The
     * block's own queries then have their final dQ: it is scaled and stored at once.
     *
     * <p>With key/value heads enough to share out (see {@link #batchAtATime}), each thread takes
     * a key/value head at a time, prepares its keys and values, runs its query heads and sums
     * their dK and dV into dqkv itself ({@link #sumGroup}), and this returns true; otherwise the
     * keys and values of all heads are prepared first, once, and it returns false: the caller
     * then sums the heads.
     */
    public static boolean backwardHeads(float[] dout, float[] qkv, float[] out, float[] lse, float[] delta, float[] dqkv,
                                        float[] part, int batch, int seqLen, int nq, int nkv, int d) {
        if (!fits(d)) throw new IllegalArgumentException("FusedAttention: head dim " + d + " needs a multiple of 16 and AVX-512");
        int stride = (nq + 2 * nkv) * d;
        int perHead = (seqLen + KB - 1) / KB * d * KB;
        int kvHeads = batch * nkv;
        // Transposed keys, transposed values, then the keys' rows contiguous (for dQ = dS K).
        int rowsOff = 2 * kvHeads * perHead;
        int kSize = chunked(seqLen, d);
        boolean headAtATime = batchAtATime(kvHeads, 2 * perHead + kSize);
        float[] kv = headAtATime ? null : KEYS.get(rowsOff + kvHeads * kSize);
        if (!headAtATime) Workers.pool().parallelFor(2 * kvHeads, 1, (long) 3 * kvHeads * seqLen * d, (from, to) -> {
            for (int i = from; i < to; i++) {
                int bg = i % kvHeads;
                int b = bg / nkv;
                int g = bg - b * nkv;
                int column = (i < kvHeads ? nq + g : nq + nkv + g) * d;
                transposeKeys(qkv, b * seqLen * stride + column, stride, seqLen, d, kv, i * perHead);
                if (i < kvHeads) packChunks(qkv, b * seqLen * stride + column, stride, seqLen, d, kv, rowsOff + bg * kSize);
            }
        });
        // delta = rowsum(dO o O) for every head, a row of all heads at a time: contiguous, where
        // one head's rows are a head-width apart in memory (a few percent of the backward).
        int ldo = nq * d;
        Workers.pool().parallelFor(batch * seqLen, 64, (long) 2 * batch * seqLen * ldo, (from, to) -> {
            for (int bt = from; bt < to; bt++) {
                int b = bt / seqLen;
                int t = bt - b * seqLen;
                for (int h = 0; h < nq; h++) {
                    delta[(b * nq + h) * seqLen + t] = Vec.dot(dout, bt * ldo + h * d, out, bt * ldo + h * d, d);
                }
            }
        });
        int group = nq / nkv;
        float scale = 1f / (float) Math.sqrt(d);
        if (headAtATime) {
            // Items are key/value heads: each thread prepares one in its own L2 and runs the
            // query heads of its group against it (see batchAtATime).
            Workers.pool().parallelFor(kvHeads, 1, (from, to) -> {
                float[] w = SCRATCH.get();
                float[] own = BATCH_KEYS.get(2 * perHead + kSize);
                for (int item = from; item < to; item++) {
                    int bg = apart(item, kvHeads);
                    int b = bg / nkv;
                    int g = bg - b * nkv;
                    int kColumn = b * seqLen * stride + (nq + g) * d;
                    transposeKeys(qkv, kColumn, stride, seqLen, d, own, 0);
                    transposeKeys(qkv, kColumn + nkv * d, stride, seqLen, d, own, perHead);
                    packChunks(qkv, kColumn, stride, seqLen, d, own, 2 * perHead);
                    for (int h = g * group; h < (g + 1) * group; h++) {
                        backwardHead(dout, qkv, out, lse, delta, dqkv, part, seqLen, nq, d, stride, scale, b, h,
                                own, 0, perHead, 2 * perHead, w);
                    }
                    // The group's dK and dV rows are still in this thread's L2.
                    sumGroup(dqkv, part, b, g, 0, seqLen, seqLen, nq, nkv, d);
                }
            });
            return true;
        }
        Workers.pool().parallelFor(batch * nq, 1, (from, to) -> {
            float[] w = SCRATCH.get();
            for (int item = from; item < to; item++) {
                int bh = apart(item, batch * nq);
                int b = bh / nq;
                int h = bh - b * nq;
                int g = h / group;
                int bg = b * nkv + g;
                backwardHead(dout, qkv, out, lse, delta, dqkv, part, seqLen, nq, d, stride, scale, b, h,
                        kv, bg * perHead, (kvHeads + bg) * perHead, rowsOff + bg * kSize, w);
            }
        });
        return false;
    }

    /**
     * dK = scale sum_h dK_h and dV = sum_h dV_h over key/value head g's query heads, in head
     * order, for key rows u0 .. u1 of sequence b: from {@code part [B, nq, T, 2d]} into dqkv.
     */
    public static void sumGroup(float[] dqkv, float[] part, int b, int g, int u0, int u1, int seqLen, int nq, int nkv,
                                int d) {
        int stride = (nq + 2 * nkv) * d;
        int group = nq / nkv;
        float scale = 1f / (float) Math.sqrt(d);
        int d2 = 2 * d;
        for (int u = u0; u < u1; u++) {
            int kOut = (b * seqLen + u) * stride + (nq + g) * d;
            int vOut = kOut + nkv * d;
            for (int hh = 0; hh < group; hh++) {
                int src = ((b * nq + g * group + hh) * seqLen + u) * d2;
                if (hh == 0) {
                    System.arraycopy(part, src, dqkv, kOut, d);
                    System.arraycopy(part, src + d, dqkv, vOut, d);
                } else {
                    Vec.axpy(1f, part, src, dqkv, kOut, d);
                    Vec.axpy(1f, part, src + d, dqkv, vOut, d);
                }
            }
            SoftmaxRows.scale(dqkv, kOut, d, scale);
        }
    }

    private static void backwardHead(float[] dout, float[] qkv, float[] out, float[] lse, float[] delta, float[] dqkv,
                                     float[] part, int seqLen, int nq, int d, int stride, float scale, int b, int h,
                                     float[] kv, int kto, int vto, int kRows, float[] w) {
        int ldo = nq * d;
        int d2 = 2 * d;
        int qBase = b * seqLen * stride + h * d;
        int gBase = b * seqLen * ldo + h * d;
        int rowBase = (b * nq + h) * seqLen;
        int pBase = rowBase * d2;
        float[] dq = ROWS.get(seqLen * d);
        java.util.Arrays.fill(dq, 0, seqLen * d, 0f);
        // The head's queries and output gradients with their rows contiguous, for the transposed
        // products (rows a full head-width apart fall into few cache sets); then packed per strip
        // from there, in cache: every key block reads them.
        int packed = (seqLen + MR - 1) / MR * MR * d;
        int rowsOff = 2 * packed;
        int rowsSize = chunked(seqLen, d);
        float[] qp = STRIPS.get(rowsOff + 2 * rowsSize);
        packChunks(qkv, qBase, stride, seqLen, d, qp, rowsOff);
        packChunks(dout, gBase, ldo, seqLen, d, qp, rowsOff + rowsSize);
        stripsFromChunks(qp, rowsOff, seqLen, d, qp, 0);
        stripsFromChunks(qp, rowsOff + rowsSize, seqLen, d, qp, packed);
        // The dQ product is the forward's P V tile with every correction 1 (an exact multiply).
        java.util.Arrays.fill(w, C_OFF, C_OFF + MR, 1f);
        int stripsMax = (seqLen + MR - 1) / MR;
        float[] pd = BLOCKS.get(2 * stripsMax * MR * KB);
        for (int u0 = 0; u0 < seqLen; u0 += KB) {
            int keys = Math.min(KB, seqLen - u0);
            int panel = (u0 / KB) * d * KB;
            // u0 is a multiple of MR: the block's queries start a strip. P, then dS, [query - u0, KB].
            int queries = seqLen - u0;
            int dsOff = (queries + MR - 1) / MR * MR * KB;
            for (int s0 = u0; s0 < seqLen; s0 += MR) {
                int sr = Math.min(MR, seqLen - s0);
                int seen = Math.min(keys, s0 + sr - u0);
                int slot = (s0 - u0) * KB;
                scores(qp, s0 * d, kv, kto + panel, d, pd, slot);
                scores(qp, packed + s0 * d, kv, vto + panel, d, pd, dsOff + slot);
                softmaxBackward(pd, slot, dsOff + slot, sr, s0, u0, scale, lse, delta, rowBase);
            }
            // dQ += dS K in a pass of its own: with it in the pass above, the three 12 KiB panels of
            // the block's keys and values and each strip's rows overfilled L1 (3-6% slower).
            for (int s0 = u0; s0 < seqLen; s0 += MR) {
                int sr = Math.min(MR, seqLen - s0);
                int seen = Math.min(keys, s0 + sr - u0);
                int slot = (s0 - u0) * KB;
                for (int e0 = 0; e0 < d; e0 += DV) {
                    probabilitiesTimesValues(kv, kRows + e0 * seqLen + u0 * DV, seen, dq, s0 * d + e0, d, sr,
                            Math.min(DV, d - e0) / L, pd, dsOff + slot, w);
                }
            }
            // No later block reaches these queries: their dQ is final, stored now (the strided rows'
            // writes spread over the call rather than all at its end; about 1% measured).
            for (int t = u0; t < u0 + keys; t++) scaleInto(dq, t * d, dqkv, qBase + t * stride, d, scale);
            // dV = P^T dO and dK = dS^T Q for the block's keys, MR keys x 2 vectors at a time, each
            // summed over the block's queries in order in registers (a query before a key group sees
            // none of it), CHUNK queries at a time: the chunk's rows of P or dS and of dO or Q stay
            // in L1 while every key group reads them (3-4% of the backward against all the queries
            // in one pass, read from L2). Between chunks the sums wait in part's rows.
            for (int e0 = 0; e0 < d; e0 += DV) {
                int nv = Math.min(DV, d - e0) / L;
                int vRows = rowsOff + rowsSize + e0 * seqLen + u0 * DV;
                int qRows = rowsOff + e0 * seqLen + u0 * DV;
                for (int c0 = 0; c0 < queries; c0 += CHUNK) {
                    int c1 = Math.min(queries, c0 + CHUNK);
                    for (int v0 = 0; v0 < nv; v0 += 2) {
                        int n2 = Math.min(2, nv - v0);
                        for (int k0 = 0; k0 < keys && k0 < c1; k0 += MR) {
                            transposedTile(pd, k0, qp, vRows + v0 * L, Math.max(k0, c0), c1, k0 < c0, part,
                                    pBase + (u0 + k0) * d2 + d + e0 + v0 * L, d2, Math.min(MR, keys - k0), n2);
                        }
                        for (int k0 = 0; k0 < keys && k0 < c1; k0 += MR) {
                            transposedTile(pd, dsOff + k0, qp, qRows + v0 * L, Math.max(k0, c0), c1, k0 < c0, part,
                                    pBase + (u0 + k0) * d2 + e0 + v0 * L, d2, Math.min(MR, keys - k0), n2);
                        }
                    }
                }
            }
        }
    }

    /**
     * Rows r < sr of the strip (query {@code s0 + r}, log-sum-exp and delta at
     * {@code rowBase + s0 + r}): the scores at w[po + r KB] become {@code P = exp(scale s - lse)}
     * (exactly 0 for a key after the query) and dP at w[dso + r KB] becomes
     * {@code dS = P (dP - delta)}; rows past the strip become 0 in both.
     */
    private static void softmaxBackward(float[] w, int po, int dso, int sr, int s0, int u0, float scale, float[] lse,
                                        float[] delta, int rowBase) {
        FloatVector zero = FloatVector.zero(S);
        FloatVector vs = FloatVector.broadcast(S, scale);
        for (int r = 0; r < sr; r++) {
            int o = po + r * KB;
            int ds = dso + r * KB;
            int visible = s0 + r - u0 + 1;
            FloatVector vl = FloatVector.broadcast(S, -lse[rowBase + s0 + r]);
            FloatVector vd = FloatVector.broadcast(S, delta[rowBase + s0 + r]);
            // One exp per loop body (see softmax).
            for (int j = 0; j < KB; j += L) {
                FloatVector p = Vec.expSoftmax(FloatVector.fromArray(S, w, o + j).fma(vs, vl));
                p = zero.blend(p, IOTA.lt((float) (visible - j)));
                p.intoArray(w, o + j);
                p.mul(FloatVector.fromArray(S, w, ds + j).sub(vd)).intoArray(w, ds + j);
            }
        }
        java.util.Arrays.fill(w, po + sr * KB, po + MR * KB, 0f);
        java.util.Arrays.fill(w, dso + sr * KB, dso + MR * KB, 0f);
    }

    /** Queries t0 .. t0 + rows of head h against every key they see. */
    private static void queryTile(float[] qkv, float[] out, float[] lse, int seqLen, int nq, int d, int stride,
                                  float scale, int b, int h, int t0, int rows, float[] kt, int ko, int vBase, float[] w) {
        int ldo = nq * d;
        int qBase = (b * seqLen) * stride + h * d;
        int oBase = (b * seqLen) * ldo + h * d;
        float[] o = ROWS.get(rows * d);
        java.util.Arrays.fill(o, 0, rows * d, 0f);
        float[] qp = STRIPS.get((rows + MR - 1) / MR * MR * d);
        packStrips(qkv, qBase + t0 * stride, stride, rows, d, qp, 0);
        for (int r = 0; r < rows; r++) w[M_OFF + r] = Float.NEGATIVE_INFINITY;
        java.util.Arrays.fill(w, L_OFF, L_OFF + rows * L, 0f);
        int end = t0 + rows;
        for (int u0 = 0; u0 < end; u0 += KB) {
            int panel = ko + (u0 / KB) * d * KB;
            for (int s0 = 0; s0 < rows; s0 += MR) {
                int sr = Math.min(MR, rows - s0);
                int first = t0 + s0;
                int last = first + sr - 1;
                if (u0 > last) continue;
                scores(qp, s0 * d, kt, panel, d, w, 0);
                softmax(w, s0, sr, first, u0, scale);
                int keys = Math.min(KB, last - u0 + 1);
                for (int e0 = 0; e0 < d; e0 += DV) {
                    probabilitiesTimesValues(kt, vBase + e0 * seqLen + u0 * DV, keys, o, s0 * d + e0, d, sr,
                            Math.min(DV, d - e0) / L, w, 0, w);
                }
            }
        }
        for (int r = 0; r < rows; r++) {
            float l = 0f;
            for (int i = 0; i < L; i++) l += w[L_OFF + r * L + i];
            scaleInto(o, r * d, out, oBase + (t0 + r) * ldo, d, 1f / l);
            lse[(b * nq + h) * seqLen + t0 + r] = w[M_OFF + r] + (float) Math.log(l);
        }
    }

    /** {@code y[yo + i] = x[xo + i] s} for i < n, n a multiple of the vector length. */
    private static void scaleInto(float[] x, int xo, float[] y, int yo, int n, float s) {
        for (int i = 0; i < n; i += L) FloatVector.fromArray(S, x, xo + i).mul(s).intoArray(y, yo + i);
    }

    /**
     * {@code w[r KB + j] = q_r . k_j} for a strip's 6 query rows, packed at {@code qp[qo + e MR + r]}
     * (see {@link #packStrips}), and the panel's 48 keys, summed over e in order in registers.
     */
    private static void scores(float[] qp, int qo, float[] kt, int ko, int d, float[] w, int wo) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00;
        FloatVector c30 = c00, c31 = c00, c32 = c00;
        FloatVector c40 = c00, c41 = c00, c42 = c00;
        FloatVector c50 = c00, c51 = c00, c52 = c00;
        // Two induction variables and constant offsets: no address arithmetic per row in the loop.
        int end = qo + d * MR;
        for (int qe = qo, k = ko; qe < end; qe += MR, k += KB) {
            FloatVector k0 = FloatVector.fromArray(S, kt, k);
            FloatVector k1 = FloatVector.fromArray(S, kt, k + L);
            FloatVector k2 = FloatVector.fromArray(S, kt, k + 2 * L);
            FloatVector a = FloatVector.broadcast(S, qp[qe]);
            c00 = a.fma(k0, c00);
            c01 = a.fma(k1, c01);
            c02 = a.fma(k2, c02);
            a = FloatVector.broadcast(S, qp[qe + 1]);
            c10 = a.fma(k0, c10);
            c11 = a.fma(k1, c11);
            c12 = a.fma(k2, c12);
            a = FloatVector.broadcast(S, qp[qe + 2]);
            c20 = a.fma(k0, c20);
            c21 = a.fma(k1, c21);
            c22 = a.fma(k2, c22);
            a = FloatVector.broadcast(S, qp[qe + 3]);
            c30 = a.fma(k0, c30);
            c31 = a.fma(k1, c31);
            c32 = a.fma(k2, c32);
            a = FloatVector.broadcast(S, qp[qe + 4]);
            c40 = a.fma(k0, c40);
            c41 = a.fma(k1, c41);
            c42 = a.fma(k2, c42);
            a = FloatVector.broadcast(S, qp[qe + 5]);
            c50 = a.fma(k0, c50);
            c51 = a.fma(k1, c51);
            c52 = a.fma(k2, c52);
        }
        c00.intoArray(w, wo);
        c01.intoArray(w, wo + L);
        c02.intoArray(w, wo + 2 * L);
        c10.intoArray(w, wo + KB);
        c11.intoArray(w, wo + KB + L);
        c12.intoArray(w, wo + KB + 2 * L);
        c20.intoArray(w, wo + 2 * KB);
        c21.intoArray(w, wo + 2 * KB + L);
        c22.intoArray(w, wo + 2 * KB + 2 * L);
        c30.intoArray(w, wo + 3 * KB);
        c31.intoArray(w, wo + 3 * KB + L);
        c32.intoArray(w, wo + 3 * KB + 2 * L);
        c40.intoArray(w, wo + 4 * KB);
        c41.intoArray(w, wo + 4 * KB + L);
        c42.intoArray(w, wo + 4 * KB + 2 * L);
        c50.intoArray(w, wo + 5 * KB);
        c51.intoArray(w, wo + 5 * KB + L);
        c52.intoArray(w, wo + 5 * KB + 2 * L);
    }

    /**
     * The online softmax of the strip's rows r < sr (query {@code first + r}, tile row
     * {@code s0 + r}) over keys u0 .. u0 + KB: with the scaled block max folded into the running
     * max m, {@code p = exp(scale s - m)} (exactly 0 for a key after the query),
     * {@code corr = exp(m_old - m)} (0 before the first block), the lane-wise denominator
     * {@code l = l corr + p}. Probabilities overwrite the scores; corrections go to w[C_OFF + r].
     *
     * <p>One call site of exp, in one loop over the strip's 18 vectors (independent, so they
     * overlap), masked by the causal bound on the diagonal: with a second site C2 may reach its
     * inlining node budget first and call exp out of line, boxing every vector (seen in
     * {@code -XX:+PrintInlining}; this method is also kept above the hot-inlining size, 325
     * bytecodes, so that it compiles on its own, not inside queryTile).
     */
    private static void softmax(float[] w, int s0, int sr, int first, int u0, float scale) {
        FloatVector ninf = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        FloatVector vs = FloatVector.broadcast(S, scale);
        // Off the diagonal every key is visible: no masks.
        boolean diagonal = u0 + KB - 1 > first;
        for (int r = 0; r < sr; r++) {
            int o = r * KB;
            int visible = first + r - u0 + 1;
            FloatVector y0 = FloatVector.fromArray(S, w, o);
            FloatVector y1 = FloatVector.fromArray(S, w, o + L);
            FloatVector y2 = FloatVector.fromArray(S, w, o + 2 * L);
            if (diagonal) {
                y0 = ninf.blend(y0, IOTA.lt((float) visible));
                y1 = ninf.blend(y1, IOTA.lt((float) (visible - L)));
                y2 = ninf.blend(y2, IOTA.lt((float) (visible - 2 * L)));
            }
            newMax(w, s0 + r, r, larger(larger(y0, y1), y2), scale);
        }
        FloatVector zero = FloatVector.zero(S);
        int mi = M_OFF + s0;
        for (int i = 0; i < sr * 3; i++) {
            int r = i / 3;
            int j = (i - 3 * r) * L;
            int o = r * KB + j;
            // A masked lane's argument can be anything: its garbage is blended away.
            FloatVector p = Vec.expSoftmax(FloatVector.fromArray(S, w, o).fma(vs, FloatVector.broadcast(S, -w[mi + r])));
            if (diagonal) p = zero.blend(p, IOTA.lt((float) (first + r - u0 + 1 - j)));
            p.intoArray(w, o);
        }
        for (int r = 0; r < sr; r++) {
            int o = r * KB;
            FloatVector sum = FloatVector.fromArray(S, w, o).add(FloatVector.fromArray(S, w, o + L))
                    .add(FloatVector.fromArray(S, w, o + 2 * L));
            int li = L_OFF + (s0 + r) * L;
            FloatVector.fromArray(S, w, li).mul(w[C_OFF + r]).add(sum).intoArray(w, li);
        }
    }

    /**
     * The lane-wise larger of a and b by one compare and blend (Java's max orders -0 below +0 and
     * propagates NaN, several instructions on x86). A NaN score need not reach the max: its own
     * probability is NaN and carries it to the output.
     */
    private static FloatVector larger(FloatVector a, FloatVector b) {
        return a.blend(b, a.lt(b));
    }

    /**
     * How far a scaled score may pass its row's running max m before m moves: the probabilities
     * {@code exp(s - m)} then stay below e^8 (about 3000; their sums far from float's range),
     * and m moves in a row's first block and then almost never (following every new max, it
     * moved in a quarter of a row's blocks, on random scores at T 1024). The output
     * {@code O / l} and {@code lse = m + log l} do not depend on which m was used.
     */
    private static final float RESCALE_MARGIN = 8f;

    /**
     * The running max of tile row {@code row} after a block whose lane-wise maxima of raw scores
     * are y, and the strip row's correction at w[C_OFF + r]: reduce across lanes (NaN-aware, a
     * long dependent chain per row) and rescale only when a lane passes the max by more than
     * {@link #RESCALE_MARGIN}. max commutes with scaling by a positive float.
     */
    private static void newMax(float[] w, int row, int r, FloatVector y, float scale) {
        int mi = M_OFF + row;
        float m = w[mi];
        float corr = 1f;
        if (y.mul(scale).compare(VectorOperators.GT, m + RESCALE_MARGIN).anyTrue()) {
            float mNew = y.reduceLanes(VectorOperators.MAX) * scale;
            corr = m == Float.NEGATIVE_INFINITY ? 0f : Vec.exp(m - mNew);
            m = mNew;
            w[mi] = m;
        }
        w[C_OFF + r] = corr;
    }

    /**
     * {@code acc[ao + j lda + 0:nv L] (+)= sum_(start <= t < rows) p[po + t KB + j] x[xo + t DV + 0:nv L]}
     * (added to acc's rows when {@code add}) for the keys j < nk <= 6 of a group and nv <= 2
     * vectors of columns: dV from P and dO, dK from dS and Q, summed over the queries in order in
     * 12 registers (a 6 x 64 tile fills the 32 with the row's vectors and broadcasts, and C2 may
     * then spill inside the loop). Keys past nk repeat the last, summed, not stored; a missing
     * second vector (nv = 1) is summed from x's padding, not stored.
     */
    private static void transposedTile(float[] p, int po, float[] x, int xo, int start, int rows, boolean add,
                                       float[] acc, int ao, int lda, int nk, int nv) {
        int e1 = Math.min(1, nv - 1) * L;
        FloatVector zero = FloatVector.zero(S);
        int a1 = ao + Math.min(1, nk - 1) * lda, a2 = ao + Math.min(2, nk - 1) * lda, a3 = ao + Math.min(3, nk - 1) * lda;
        int a4 = ao + Math.min(4, nk - 1) * lda, a5 = ao + Math.min(5, nk - 1) * lda;
        FloatVector c00 = add ? FloatVector.fromArray(S, acc, ao) : zero;
        FloatVector c01 = add ? FloatVector.fromArray(S, acc, ao + e1) : zero;
        FloatVector c10 = add ? FloatVector.fromArray(S, acc, a1) : zero;
        FloatVector c11 = add ? FloatVector.fromArray(S, acc, a1 + e1) : zero;
        FloatVector c20 = add ? FloatVector.fromArray(S, acc, a2) : zero;
        FloatVector c21 = add ? FloatVector.fromArray(S, acc, a2 + e1) : zero;
        FloatVector c30 = add ? FloatVector.fromArray(S, acc, a3) : zero;
        FloatVector c31 = add ? FloatVector.fromArray(S, acc, a3 + e1) : zero;
        FloatVector c40 = add ? FloatVector.fromArray(S, acc, a4) : zero;
        FloatVector c41 = add ? FloatVector.fromArray(S, acc, a4 + e1) : zero;
        FloatVector c50 = add ? FloatVector.fromArray(S, acc, a5) : zero;
        FloatVector c51 = add ? FloatVector.fromArray(S, acc, a5 + e1) : zero;
        // One induction variable, the indices linear in it with constant scales: C2 hoists the range checks.
        for (int t = start; t < rows; t++) {
            int pt = po + t * KB;
            int xt = xo + t * DV;
            // Rows DV floats apart (see packChunks): the second vector is in bounds whatever nv.
            FloatVector x0 = FloatVector.fromArray(S, x, xt);
            FloatVector x1 = FloatVector.fromArray(S, x, xt + L);
            FloatVector a = FloatVector.broadcast(S, p[pt]);
            c00 = a.fma(x0, c00);
            c01 = a.fma(x1, c01);
            a = FloatVector.broadcast(S, p[pt + 1]);
            c10 = a.fma(x0, c10);
            c11 = a.fma(x1, c11);
            a = FloatVector.broadcast(S, p[pt + 2]);
            c20 = a.fma(x0, c20);
            c21 = a.fma(x1, c21);
            a = FloatVector.broadcast(S, p[pt + 3]);
            c30 = a.fma(x0, c30);
            c31 = a.fma(x1, c31);
            a = FloatVector.broadcast(S, p[pt + 4]);
            c40 = a.fma(x0, c40);
            c41 = a.fma(x1, c41);
            a = FloatVector.broadcast(S, p[pt + 5]);
            c50 = a.fma(x0, c50);
            c51 = a.fma(x1, c51);
        }
        // Stored here, not by a helper taking the vectors: one the JIT does not inline boxes them.
        c00.intoArray(acc, ao);
        if (nv > 1) c01.intoArray(acc, ao + L);
        if (nk > 1) {
            c10.intoArray(acc, ao + lda);
            if (nv > 1) c11.intoArray(acc, ao + lda + L);
        }
        if (nk > 2) {
            c20.intoArray(acc, ao + 2 * lda);
            if (nv > 1) c21.intoArray(acc, ao + 2 * lda + L);
        }
        if (nk > 3) {
            c30.intoArray(acc, ao + 3 * lda);
            if (nv > 1) c31.intoArray(acc, ao + 3 * lda + L);
        }
        if (nk > 4) {
            c40.intoArray(acc, ao + 4 * lda);
            if (nv > 1) c41.intoArray(acc, ao + 4 * lda + L);
        }
        if (nk > 5) {
            c50.intoArray(acc, ao + 5 * lda);
            if (nv > 1) c51.intoArray(acc, ao + 5 * lda + L);
        }
    }

    /**
     * {@code O[r, 0:nv L] = O[r] corr_r + sum_(u < keys) P[r, u] V[u]} for the strip's rows
     * r < sr (at {@code o0 + r d}), over nv <= 4 vectors of columns, V's rows at {@code vo + u DV};
     * P at {@code w[po + r KB + u]}, the corrections at {@code c[C_OFF + r]}. Three rows at a
     * time: a 6 x 64 tile needs 31 of the 32 vector registers, and C2 then spills some of them
     * inside the loop or not depending on the run (seen: 10 reloads per key, half the speed).
     */
    private static void probabilitiesTimesValues(float[] v, int vo, int keys, float[] out, int o0, int d, int sr, int nv,
                                                 float[] w, int po, float[] c) {
        int first = Math.min(sr, 3);
        valuesTile(v, vo, keys, out, o0, d, first, nv, w, po, c[C_OFF], c[C_OFF + Math.min(1, first - 1)],
                c[C_OFF + Math.min(2, first - 1)]);
        if (sr > 3) {
            valuesTile(v, vo, keys, out, o0 + 3 * d, d, sr - 3, nv, w, po + 3 * KB, c[C_OFF + 3],
                    c[C_OFF + 3 + Math.min(1, sr - 4)], c[C_OFF + 3 + Math.min(2, sr - 4)]);
        }
    }

    /**
     * {@link #probabilitiesTimesValues} for rows r < nr <= 3 at {@code o0 + r d} (rows past nr
     * repeat the last and are not stored; their P rows at constant offsets are read, not stored),
     * scaled first by their corrections f_r; vectors past nv are summed from V's padding, not
     * stored. The offsets of the rows and vectors are worked out
     * again after the loop, in other terms, so that C2 does not keep them in registers across it
     * (it ran short of general registers and spilled inside the loop).
     */
    private static void valuesTile(float[] v, int vo, int keys, float[] out, int o0, int d, int nr, int nv,
                                   float[] w, int po, float f0, float f1, float f2) {
        int e1 = Math.min(1, nv - 1) * L;
        int e2 = Math.min(2, nv - 1) * L;
        int e3 = Math.min(3, nv - 1) * L;
        int d1 = Math.min(1, nr - 1) * d;
        int d2 = Math.min(2, nr - 1) * d;
        FloatVector c00 = FloatVector.fromArray(S, out, o0).mul(f0);
        FloatVector c01 = FloatVector.fromArray(S, out, o0 + e1).mul(f0);
        FloatVector c02 = FloatVector.fromArray(S, out, o0 + e2).mul(f0);
        FloatVector c03 = FloatVector.fromArray(S, out, o0 + e3).mul(f0);
        FloatVector c10 = FloatVector.fromArray(S, out, o0 + d1).mul(f1);
        FloatVector c11 = FloatVector.fromArray(S, out, o0 + d1 + e1).mul(f1);
        FloatVector c12 = FloatVector.fromArray(S, out, o0 + d1 + e2).mul(f1);
        FloatVector c13 = FloatVector.fromArray(S, out, o0 + d1 + e3).mul(f1);
        FloatVector c20 = FloatVector.fromArray(S, out, o0 + d2).mul(f2);
        FloatVector c21 = FloatVector.fromArray(S, out, o0 + d2 + e1).mul(f2);
        FloatVector c22 = FloatVector.fromArray(S, out, o0 + d2 + e2).mul(f2);
        FloatVector c23 = FloatVector.fromArray(S, out, o0 + d2 + e3).mul(f2);
        // One induction variable, the indices linear in it with constant scales: C2 hoists the range
        // checks. Two keys per pass: the loop's own instructions (a third of them with one key)
        // shared by 24 multiply-adds (in L1, 28% faster; C2 does not unroll this loop itself).
        int pairs = keys & ~1;
        for (int j = 0; j < pairs; j += 2) {
            int u = po + j;
            int vu = vo + j * DV;
            FloatVector v0 = FloatVector.fromArray(S, v, vu);
            FloatVector v1 = FloatVector.fromArray(S, v, vu + L);
            FloatVector v2 = FloatVector.fromArray(S, v, vu + 2 * L);
            FloatVector v3 = FloatVector.fromArray(S, v, vu + 3 * L);
            FloatVector a = FloatVector.broadcast(S, w[u]);
            c00 = a.fma(v0, c00);
            c01 = a.fma(v1, c01);
            c02 = a.fma(v2, c02);
            c03 = a.fma(v3, c03);
            a = FloatVector.broadcast(S, w[u + KB]);
            c10 = a.fma(v0, c10);
            c11 = a.fma(v1, c11);
            c12 = a.fma(v2, c12);
            c13 = a.fma(v3, c13);
            a = FloatVector.broadcast(S, w[u + 2 * KB]);
            c20 = a.fma(v0, c20);
            c21 = a.fma(v1, c21);
            c22 = a.fma(v2, c22);
            c23 = a.fma(v3, c23);
            v0 = FloatVector.fromArray(S, v, vu + DV);
            v1 = FloatVector.fromArray(S, v, vu + DV + L);
            v2 = FloatVector.fromArray(S, v, vu + DV + 2 * L);
            v3 = FloatVector.fromArray(S, v, vu + DV + 3 * L);
            a = FloatVector.broadcast(S, w[u + 1]);
            c00 = a.fma(v0, c00);
            c01 = a.fma(v1, c01);
            c02 = a.fma(v2, c02);
            c03 = a.fma(v3, c03);
            a = FloatVector.broadcast(S, w[u + 1 + KB]);
            c10 = a.fma(v0, c10);
            c11 = a.fma(v1, c11);
            c12 = a.fma(v2, c12);
            c13 = a.fma(v3, c13);
            a = FloatVector.broadcast(S, w[u + 1 + 2 * KB]);
            c20 = a.fma(v0, c20);
            c21 = a.fma(v1, c21);
            c22 = a.fma(v2, c22);
            c23 = a.fma(v3, c23);
        }
        for (int j = pairs; j < keys; j++) {
            int u = po + j;
            int vu = vo + j * DV;
            // V's rows are DV floats apart (see packChunks): the four vectors are in bounds whatever nv,
            // at constant offsets (those past nv are summed, not stored).
            FloatVector v0 = FloatVector.fromArray(S, v, vu);
            FloatVector v1 = FloatVector.fromArray(S, v, vu + L);
            FloatVector v2 = FloatVector.fromArray(S, v, vu + 2 * L);
            FloatVector v3 = FloatVector.fromArray(S, v, vu + 3 * L);
            FloatVector a = FloatVector.broadcast(S, w[u]);
            c00 = a.fma(v0, c00);
            c01 = a.fma(v1, c01);
            c02 = a.fma(v2, c02);
            c03 = a.fma(v3, c03);
            a = FloatVector.broadcast(S, w[u + KB]);
            c10 = a.fma(v0, c10);
            c11 = a.fma(v1, c11);
            c12 = a.fma(v2, c12);
            c13 = a.fma(v3, c13);
            a = FloatVector.broadcast(S, w[u + 2 * KB]);
            c20 = a.fma(v0, c20);
            c21 = a.fma(v1, c21);
            c22 = a.fma(v2, c22);
            c23 = a.fma(v3, c23);
        }
        // Stored here, not by a helper taking the vectors: one the JIT does not inline boxes them.
        int s1 = o0 + d;
        int s2 = s1 + d;
        c00.intoArray(out, o0);
        if (nv > 1) c01.intoArray(out, o0 + L);
        if (nv > 2) c02.intoArray(out, o0 + 2 * L);
        if (nv > 3) c03.intoArray(out, o0 + 3 * L);
        if (nr > 1) {
            c10.intoArray(out, s1);
            if (nv > 1) c11.intoArray(out, s1 + L);
            if (nv > 2) c12.intoArray(out, s1 + 2 * L);
            if (nv > 3) c13.intoArray(out, s1 + 3 * L);
        }
        if (nr > 2) {
            c20.intoArray(out, s2);
            if (nv > 1) c21.intoArray(out, s2 + L);
            if (nv > 2) c22.intoArray(out, s2 + 2 * L);
            if (nv > 3) c23.intoArray(out, s2 + 3 * L);
        }
    }
}
