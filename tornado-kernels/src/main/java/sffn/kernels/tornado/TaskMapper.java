package sffn.kernels.tornado;

import java.util.List;
import sffn.kernels.AdamW;
import sffn.kernels.Attention;
import sffn.kernels.Bf16Matmul;
import sffn.kernels.Bias;
import sffn.kernels.BlockDiagMatmul;
import sffn.kernels.Blend;
import sffn.kernels.CrossEntropy;
import sffn.kernels.Embedding;
import sffn.kernels.Fill;
import sffn.kernels.Gelu;
import sffn.kernels.GradNorm;
import sffn.kernels.Int8Matmul;
import sffn.kernels.KvCache;
import sffn.kernels.LayerNorm;
import sffn.kernels.Matmul;
import sffn.kernels.Residual;
import sffn.kernels.RmsNorm;
import sffn.kernels.Rope;
import sffn.kernels.Shuffle;
import sffn.kernels.SwiGlu;
import sffn.kernels.Tensor;
import sffn.kernels.TiledGemm;
import sffn.kernels.WorkGroups;
import sffn.kernels.plan.KernelCall;
import sffn.kernels.plan.KernelCall.AdamWFlat;
import sffn.kernels.plan.KernelCall.AdamWUpdate;
import sffn.kernels.plan.KernelCall.AdamWUpdateGroup;
import sffn.kernels.plan.KernelCall.AttentionBackward;
import sffn.kernels.plan.KernelCall.AttentionForward;
import sffn.kernels.plan.KernelCall.Bf16BlockDiagForward;
import sffn.kernels.plan.KernelCall.Bf16KvAppend;
import sffn.kernels.plan.KernelCall.Bf16KvAttention;
import sffn.kernels.plan.KernelCall.Bf16MatmulForward;
import sffn.kernels.plan.KernelCall.BiasAdd;
import sffn.kernels.plan.KernelCall.BiasBackward;
import sffn.kernels.plan.KernelCall.BlendBackward;
import sffn.kernels.plan.KernelCall.BlendForward;
import sffn.kernels.plan.KernelCall.BlendSplit;
import sffn.kernels.plan.KernelCall.GuidedMatmulForward;
import sffn.kernels.plan.KernelCall.MatmulGeluForward;
import sffn.kernels.plan.KernelCall.BlockDiagBackwardInput;
import sffn.kernels.plan.KernelCall.BlockDiagBackwardWeight;
import sffn.kernels.plan.KernelCall.BlockDiagForward;
import sffn.kernels.plan.KernelCall.Copy;
import sffn.kernels.plan.KernelCall.CrossEntropyForward;
import sffn.kernels.plan.KernelCall.CrossEntropyForwardBackward;
import sffn.kernels.plan.KernelCall.EmbeddingBackward;
import sffn.kernels.plan.KernelCall.EmbeddingForward;
import sffn.kernels.plan.KernelCall.GeluBackward;
import sffn.kernels.plan.KernelCall.GeluForward;
import sffn.kernels.plan.KernelCall.GradNormFinish;
import sffn.kernels.plan.KernelCall.GradNormFlat;
import sffn.kernels.plan.KernelCall.GradNormPartials;
import sffn.kernels.plan.KernelCall.GradNormPartialsGroup;
import sffn.kernels.plan.KernelCall.Int8BlockDiagForward;
import sffn.kernels.plan.KernelCall.Int8MatmulForward;
import sffn.kernels.plan.KernelCall.KvAppend;
import sffn.kernels.plan.KernelCall.KvAttention;
import sffn.kernels.plan.KernelCall.LastRows;
import sffn.kernels.plan.KernelCall.LayerNormBackward;
import sffn.kernels.plan.KernelCall.LayerNormForward;
import sffn.kernels.plan.KernelCall.MatmulBackwardInput;
import sffn.kernels.plan.KernelCall.MatmulBackwardWeight;
import sffn.kernels.plan.KernelCall.MatmulForward;
import sffn.kernels.plan.KernelCall.PositionsAdd;
import sffn.kernels.plan.KernelCall.PositionsAddAt;
import sffn.kernels.plan.KernelCall.PositionsBackward;
import sffn.kernels.plan.KernelCall.ResidualAdd;
import sffn.kernels.plan.KernelCall.ResidualLayerNorm;
import sffn.kernels.plan.KernelCall.ResidualRmsNorm;
import sffn.kernels.plan.KernelCall.ResidualSum;
import sffn.kernels.plan.KernelCall.RmsNormBackward;
import sffn.kernels.plan.KernelCall.RmsNormForward;
import sffn.kernels.plan.KernelCall.RopeRotate;
import sffn.kernels.plan.KernelCall.RopeRotateAt;
import sffn.kernels.plan.KernelCall.ShuffleRows;
import sffn.kernels.plan.KernelCall.SwiGluBackward;
import sffn.kernels.plan.KernelCall.SwiGluForward;
import sffn.kernels.plan.KernelCall.WhenGuided;
import sffn.kernels.plan.KernelCall.Zero;
import sffn.kernels.plan.KernelCall.ZeroFour;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.WorkerGrid2D;
import uk.ac.manchester.tornado.api.WorkerGrid3D;

/**
 * Turns kernel calls into TornadoVM tasks of their portable bodies, or, where they pay on GPUs
 * and {@code tuned} is on, of their KernelContext bodies with a worker grid. Each call becomes
 * one task, except those whose CPU body does several things in one (attention backward: three
 * kernels; norm backward: parameters, then input; a matmul with bias: the product, then the bias).
 * A missing bias is passed as a one-element dummy that the kernel never reads.
 */
final class TaskMapper {
    private final TaskGraph graph;
    private final String graphName;
    private final GridScheduler grids;
    private final boolean tuned;
    private final MatmulVariant matmul;
    private final float[] noBias;
    private final float[] spare;
    private final float[][] unusedGrads;
    private final float[][] unusedParams;
    private final KernelContext context = new KernelContext();
    /** Where parameters and their gradients live on the device (their own arrays, or slices of shared ones). */
    private final DeviceSlices at;
    private int taskCount;

    /** @param matmul the matmul family's body; {@link MatmulVariant#LOOP} when not {@code tuned} */
    TaskMapper(TaskGraph graph, String graphName, GridScheduler grids, boolean tuned, MatmulVariant matmul,
               Residency.StandIns standIns, DeviceSlices at) {
        this.at = at;
        this.graph = graph;
        this.graphName = graphName;
        this.grids = grids;
        this.tuned = tuned;
        this.matmul = tuned ? matmul : MatmulVariant.LOOP;
        this.noBias = standIns.noBias();
        this.spare = standIns.spare();
        this.unusedGrads = standIns.unusedGrads();
        this.unusedParams = standIns.unusedParams();
    }

    int tasks() {
        return taskCount;
    }

    /** The device array of a parameter or gradient (a slice of a shared one, or its own). */
    private float[] arr(Tensor t) {
        return at.array(t);
    }

    /** The offset of a parameter or gradient in {@link #arr}. */
    private int off(Tensor t) {
        return at.offset(t);
    }

    private String name(String kernel) {
        return "t" + (taskCount++) + "_" + kernel;
    }

    /** Names a KernelContext task and registers its grid. */
    private String gridName(String kernel, WorkerGrid grid) {
        String n = name(kernel);
        grids.addWorkerGrid(graphName + "." + n, grid);
        return n;
    }

    private static WorkerGrid tiles(int outRows, int outCols) {
        WorkerGrid g = new WorkerGrid2D(WorkGroups.roundUp(outCols, WorkGroups.TILE), WorkGroups.roundUp(outRows, WorkGroups.TILE));
        g.setLocalWork(WorkGroups.TILE, WorkGroups.TILE, 1);
        return g;
    }

    private static WorkerGrid rows(int rows) {
        WorkerGrid g = new WorkerGrid1D(rows * WorkGroups.ROW);
        g.setLocalWork(WorkGroups.ROW, 1, 1);
        return g;
    }

    /**
     * The tile shape for a product of {@code m} rows: the device's, except that products of at
     * most 32 rows (decoding's, whatever the device's choice) take the 32-row shape, which wastes
     * the least of its tile (on PoCL, tiny-model decoding at batch 1 and 8: 51.2 and 65.0 ms a
     * step with this rule against 81.6 and 74.3 with every product on the 128-row shape).
     */
    private TiledGemm.Tiles tilesFor(int m) {
        return m <= TiledGemm.Tiles.T32.bm ? TiledGemm.Tiles.T32 : matmul.tiles();
    }

    /** A register-tiled GEMM task (see {@link TiledGemm} for the arguments) over {@code z} problems. */
    private void gemm(String kernel, float[] a, float[] b, float[] bias, float[] c, int m, int n, int k, int lda, int ldb,
                      int ldc, int flags, int bOff, int biasOff, int cOff, int z) {
        TiledGemm.Tiles t = tilesFor(m);
        WorkerGrid g = new WorkerGrid3D((n + t.bn - 1) / t.bn * t.tx, (m + t.bm - 1) / t.bm * t.ty, z);
        g.setLocalWork(t.tx, t.ty, 1);
        String id = gridName(kernel, g);
        switch (t) {
            case T32 -> graph.task(id, TiledGemm::gemm32, context, a, b, bias, c, m, n, k, lda, ldb, ldc, flags, bOff, biasOff, cOff);
            case T64 -> graph.task(id, TiledGemm::gemm64, context, a, b, bias, c, m, n, k, lda, ldb, ldc, flags, bOff, biasOff, cOff);
            case T64X128 -> graph.task(id, TiledGemm::gemm64x128, context, a, b, bias, c, m, n, k, lda, ldb, ldc, flags, bOff, biasOff,
                    cOff);
            case T128X64 -> graph.task(id, TiledGemm::gemm128x64, context, a, b, bias, c, m, n, k, lda, ldb, ldc, flags, bOff, biasOff,
                    cOff);
            case T128 -> graph.task(id, TiledGemm::gemm128, context, a, b, bias, c, m, n, k, lda, ldb, ldc, flags, bOff, biasOff, cOff);
        }
    }

    /**
     * A call of the matmul family on the register-tiled kernel or, with cuBLAS, as a cuBLAS library
     * task followed by the bias add (cuBLAS has no bias).
     */
    private void gemm(GemmShape g) {
        if (matmul.isCublas()) {
            CublasTasks.add(graph, name(g.kernel()), CublasGemm.of(g), matmul.tf32());
            if (g.bias() != null) graph.task(name("bias_add"), Bias::add, g.c(), g.bias(), g.biasOff(), g.m(), g.n());
        } else {
            gemm(g.kernel(), g.a(), g.b(), g.bias() == null ? noBias : g.bias(), g.c(), g.m(), g.n(), g.k(), g.lda(), g.ldb(),
                    g.ldc(), g.flags(), g.bOff(), g.biasOff(), g.cOff(), g.z());
        }
    }

    /** Whether the matmul family runs as one strided GEMM per call (register-tiled or cuBLAS). */
    private boolean stridedGemm() {
        return matmul.isRegister() || matmul.isCublas();
    }

    /**
     * A register-tiled GEMM of one problem through a fused epilogue ({@link TiledGemm#GELU},
     * {@link TiledGemm#BLEND}); unused arrays are the two stand-ins (a task takes each array once).
     */
    private void epilogueGemm(String kernel, float[] a, float[] b, int bOff, float[] bias, int biasOff, float[] c, float[] act,
                              float[] scalars, int m, int n, int k, int flags, int slot) {
        if (!matmul.isRegister()) {
            throw new IllegalStateException(kernel + " is fused for the register-tiled matmul only, not " + matmul.label());
        }
        TiledGemm.Tiles t = tilesFor(m);
        WorkerGrid g = new WorkerGrid2D((n + t.bn - 1) / t.bn * t.tx, (m + t.bm - 1) / t.bm * t.ty);
        g.setLocalWork(t.tx, t.ty, 1);
        String id = gridName(kernel, g);
        // C = A B^T.
        switch (t) {
            case T32 -> graph.task(id, TiledGemm::gemm32Epilogue, context, a, b, bias, c, act, scalars, m, n, k, flags, slot, bOff,
                    biasOff);
            case T64 -> graph.task(id, TiledGemm::gemm64Epilogue, context, a, b, bias, c, act, scalars, m, n, k, flags, slot, bOff,
                    biasOff);
            case T64X128 -> graph.task(id, TiledGemm::gemm64x128Epilogue, context, a, b, bias, c, act, scalars, m, n, k, flags, slot,
                    bOff, biasOff);
            case T128X64 -> graph.task(id, TiledGemm::gemm128x64Epilogue, context, a, b, bias, c, act, scalars, m, n, k, flags, slot,
                    bOff, biasOff);
            case T128 -> graph.task(id, TiledGemm::gemm128Epilogue, context, a, b, bias, c, act, scalars, m, n, k, flags, slot, bOff,
                    biasOff);
        }
    }

    private static int flag(boolean b) {
        return b ? 1 : 0;
    }

    void add(KernelCall call) {
        switch (call) {
            case MatmulForward c -> {
                if (stridedGemm()) {
                    gemm(GemmShape.of(c, at));
                } else if (matmul == MatmulVariant.TILE16) {
                    graph.task(gridName("matmul_fwd", tiles(c.m(), c.n())), Matmul::forwardTiled, context,
                            c.a().data, arr(c.b()), off(c.b()), c.c().data, c.m(), c.n(), c.k(), flag(c.accumulate()));
                    if (c.bias() != null) {
                        graph.task(name("bias_add"), Bias::add, c.c().data, arr(c.bias()), off(c.bias()), c.m(), c.n());
                    }
                } else {
                    float[] bias = c.bias() == null ? noBias : arr(c.bias());
                    graph.task(name("matmul_fwd"), Matmul::forward, c.a().data, arr(c.b()), off(c.b()), bias,
                            c.bias() == null ? 0 : off(c.bias()), c.c().data, c.m(), c.n(), c.k(), flag(c.bias() != null),
                            flag(c.accumulate()));
                }
            }
            // Compact weights: the portable bodies, which widen bf16 and convert int8 per element.
            case Bf16MatmulForward c -> graph.task(name("bf16_matmul_fwd"), Bf16Matmul::forward, c.a().data,
                    c.w().data, c.c().data, c.m(), c.n(), c.k(), flag(c.accumulate()));
            case Int8MatmulForward c -> graph.task(name("int8_matmul_fwd"), Int8Matmul::forward, c.a().data,
                    c.w().data, c.scale().data, c.c().data, c.m(), c.n(), c.k(), c.group(), flag(c.accumulate()));
            case Bf16BlockDiagForward c -> graph.task(name("bf16_blockdiag_fwd"), Bf16Matmul::blockDiagForward,
                    c.x().data, c.w().data, c.y().data, c.rows(), c.nb(), c.q(), c.p(), flag(c.accumulate()));
            case Int8BlockDiagForward c -> graph.task(name("int8_blockdiag_fwd"), Int8Matmul::blockDiagForward,
                    c.x().data, c.w().data, c.scale().data, c.y().data, c.rows(), c.nb(), c.q(), c.p(), c.group(),
                    flag(c.accumulate()));
            case MatmulBackwardInput c -> {
                if (stridedGemm()) {
                    gemm(GemmShape.of(c, at));
                } else if (matmul == MatmulVariant.TILE16) {
                    graph.task(gridName("matmul_bwd_in", tiles(c.m(), c.k())), Matmul::backwardInputTiled, context,
                            c.dc().data, arr(c.b()), off(c.b()), c.da().data, c.m(), c.n(), c.k(), flag(c.accumulate()));
                } else {
                    graph.task(name("matmul_bwd_in"), Matmul::backwardInput, c.dc().data, arr(c.b()), off(c.b()), c.da().data,
                            c.m(), c.n(), c.k(), flag(c.accumulate()));
                }
            }
            case MatmulBackwardWeight c -> {
                if (stridedGemm()) {
                    gemm(GemmShape.of(c, at));
                } else if (matmul == MatmulVariant.TILE16) {
                    graph.task(gridName("matmul_bwd_w", tiles(c.n(), c.k())), Matmul::backwardWeightTiled, context,
                            c.dc().data, c.a().data, arr(c.db()), off(c.db()), c.m(), c.n(), c.k(), flag(c.accumulate()));
                } else {
                    graph.task(name("matmul_bwd_w"), Matmul::backwardWeight, c.dc().data, c.a().data, arr(c.db()), off(c.db()),
                            c.m(), c.n(), c.k(), flag(c.accumulate()));
                }
            }
            case BiasAdd c -> graph.task(name("bias_add"), Bias::add, c.y().data, arr(c.bias()), off(c.bias()), c.rows(),
                    c.cols());
            case BiasBackward c -> graph.task(name("bias_bwd"), Matmul::backwardBias, c.dy().data, arr(c.dbias()),
                    off(c.dbias()), c.rows(), c.cols(), flag(c.accumulate()));
            case BlockDiagForward c -> {
                if (stridedGemm()) {
                    gemm(GemmShape.of(c, at));
                } else {
                    graph.task(name("blockdiag_fwd"), BlockDiagMatmul::forward, c.x().data, arr(c.w()), off(c.w()), c.y().data,
                            c.rows(), c.nb(), c.q(), c.p(), flag(c.accumulate()));
                }
            }
            case BlockDiagBackwardInput c -> {
                if (stridedGemm()) {
                    gemm(GemmShape.of(c, at));
                } else {
                    graph.task(name("blockdiag_bwd_in"), BlockDiagMatmul::backwardInput, c.dy().data, arr(c.w()), off(c.w()),
                            c.dx().data, c.rows(), c.nb(), c.q(), c.p(), flag(c.accumulate()));
                }
            }
            case BlockDiagBackwardWeight c -> {
                if (stridedGemm()) {
                    gemm(GemmShape.of(c, at));
                } else {
                    graph.task(name("blockdiag_bwd_w"), BlockDiagMatmul::backwardWeight, c.dy().data, c.x().data,
                            arr(c.dw()), off(c.dw()), c.rows(), c.nb(), c.q(), c.p(), flag(c.accumulate()));
                }
            }
            case ShuffleRows c -> graph.task(name("shuffle"), Shuffle::forward, c.in().data, c.out().data, c.rows(),
                    c.a(), c.b());
            case LayerNormForward c -> {
                if (tuned) {
                    graph.task(gridName("layernorm_fwd", rows(c.rows())), LayerNorm::forwardRows, context, c.x().data,
                            arr(c.w()), off(c.w()), arr(c.b()), off(c.b()), c.out().data, c.mean().data, c.rstd().data, c.c());
                } else {
                    graph.task(name("layernorm_fwd"), LayerNorm::forward, c.x().data, arr(c.w()), off(c.w()), arr(c.b()),
                            off(c.b()), c.out().data, c.mean().data, c.rstd().data, c.rows(), c.c());
                }
            }
            case LayerNormBackward c -> {
                // In the CPU body's order: parameter gradients, then the input gradient.
                graph.task(name("layernorm_bwd_params"), LayerNorm::backwardParams, c.dout().data, c.x().data,
                        c.mean().data, c.rstd().data, arr(c.dw()), off(c.dw()), arr(c.db()), off(c.db()), c.rows(), c.c(), 1);
                if (tuned) {
                    graph.task(gridName("layernorm_bwd_in", rows(c.rows())), LayerNorm::backwardInputRows, context,
                            c.dout().data, c.x().data, arr(c.w()), off(c.w()), c.mean().data, c.rstd().data, c.dx().data, c.c(),
                            flag(c.accumulateInput()));
                } else {
                    graph.task(name("layernorm_bwd_in"), LayerNorm::backwardInput, c.dout().data, c.x().data,
                            arr(c.w()), off(c.w()), c.mean().data, c.rstd().data, c.dx().data, c.rows(), c.c(),
                            flag(c.accumulateInput()));
                }
            }
            case RmsNormForward c -> {
                if (tuned) {
                    graph.task(gridName("rmsnorm_fwd", rows(c.rows())), RmsNorm::forwardRows, context, c.x().data,
                            arr(c.w()), off(c.w()), c.out().data, c.rstd().data, c.c());
                } else {
                    graph.task(name("rmsnorm_fwd"), RmsNorm::forward, c.x().data, arr(c.w()), off(c.w()), c.out().data,
                            c.rstd().data, c.rows(), c.c());
                }
            }
            case RmsNormBackward c -> {
                graph.task(name("rmsnorm_bwd_params"), RmsNorm::backwardParams, c.dout().data, c.x().data,
                        c.rstd().data, arr(c.dw()), off(c.dw()), c.rows(), c.c(), 1);
                if (tuned) {
                    graph.task(gridName("rmsnorm_bwd_in", rows(c.rows())), RmsNorm::backwardInputRows, context,
                            c.dout().data, c.x().data, arr(c.w()), off(c.w()), c.rstd().data, c.dx().data, c.c(),
                            flag(c.accumulateInput()));
                } else {
                    graph.task(name("rmsnorm_bwd_in"), RmsNorm::backwardInput, c.dout().data, c.x().data, arr(c.w()), off(c.w()),
                            c.rstd().data, c.dx().data, c.rows(), c.c(), flag(c.accumulateInput()));
                }
            }
            case GeluForward c -> graph.task(name("gelu_fwd"), Gelu::forward, c.x().data, c.out().data, c.n());
            case GeluBackward c -> graph.task(name("gelu_bwd"), Gelu::backward, c.x().data, c.dout().data,
                    c.dx().data, c.n());
            case SwiGluForward c -> graph.task(name("swiglu_fwd"), SwiGlu::forward, c.x().data, c.out().data,
                    c.rows(), c.f());
            case SwiGluBackward c -> graph.task(name("swiglu_bwd"), SwiGlu::backward, c.x().data, c.dout().data,
                    c.dx().data, c.rows(), c.f());
            case RopeRotate c -> graph.task(name("rope"), Rope::rotateHeads, c.x().data, c.cos().data, c.sin().data,
                    c.rows(), c.seqLen(), c.posOffset(), c.heads(), c.d(), c.rowStride(), c.sign());
            case AttentionForward c -> {
                if (tuned && c.d() <= Attention.FLASH_D) {
                    WorkerGrid g = new WorkerGrid2D((c.seqLen() + Attention.FLASH_Q - 1) / Attention.FLASH_Q * Attention.FLASH_TX,
                            c.batch() * c.nq() * Attention.FLASH_TY);
                    g.setLocalWork(Attention.FLASH_TX, Attention.FLASH_TY, 1);
                    graph.task(gridName("attention_fwd", g), Attention::forwardTiled, context, c.qkv().data, c.out().data,
                            c.lse().data, c.seqLen(), c.nq(), c.nkv(), c.d());
                } else {
                    graph.task(name("attention_fwd"), Attention::forward, c.qkv().data, c.out().data, c.lse().data,
                            c.batch(), c.seqLen(), c.nq(), c.nkv(), c.d());
                }
            }
            case AttentionBackward c -> {
                if (tuned && c.d() <= Attention.FLASH_D) {
                    WorkerGrid gq = new WorkerGrid2D((c.seqLen() + Attention.FLASH_Q - 1) / Attention.FLASH_Q * Attention.FLASH_TX,
                            c.batch() * c.nq() * Attention.FLASH_TY);
                    gq.setLocalWork(Attention.FLASH_TX, Attention.FLASH_TY, 1);
                    graph.task(gridName("attention_bwd_q", gq), Attention::backwardQueryTiled, context, c.dout().data,
                            c.qkv().data, c.out().data, c.lse().data, c.delta().data, c.dqkv().data, c.seqLen(), c.nq(),
                            c.nkv(), c.d());
                    WorkerGrid gkv = new WorkerGrid2D((c.seqLen() + Attention.FLASH_B - 1) / Attention.FLASH_B * Attention.FLASH_TX,
                            c.batch() * c.nkv() * Attention.FLASH_TY);
                    gkv.setLocalWork(Attention.FLASH_TX, Attention.FLASH_TY, 1);
                    graph.task(gridName("attention_bwd_kv", gkv), Attention::backwardKeyValueTiled, context, c.dout().data,
                            c.qkv().data, c.lse().data, c.delta().data, c.dqkv().data, c.seqLen(), c.nq(), c.nkv(), c.d());
                } else {
                    graph.task(name("attention_bwd_q"), Attention::backwardQuery, c.dout().data, c.qkv().data,
                            c.out().data, c.lse().data, c.delta().data, c.dqkv().data, c.batch(), c.seqLen(), c.nq(),
                            c.nkv(), c.d());
                    graph.task(name("attention_bwd_kv"), Attention::backwardKeyValue, c.dout().data, c.qkv().data,
                            c.lse().data, c.delta().data, c.dqkv().data, c.batch(), c.seqLen(), c.nq(), c.nkv(),
                            c.d());
                }
            }
            case CrossEntropyForward c -> {
                if (tuned) {
                    graph.task(gridName("xent_fwd", rows(c.rows())), CrossEntropy::forwardRows, context,
                            c.logits().data, c.targets().data, c.losses().data, c.v());
                } else {
                    graph.task(name("xent_fwd"), CrossEntropy::forward, c.logits().data, c.targets().data,
                            c.losses().data, c.rows(), c.v());
                }
            }
            case CrossEntropyForwardBackward c -> {
                if (c.dlogits() != c.logits()) {
                    graph.task(name("xent_fwd_bwd"), CrossEntropy::forwardBackward, c.logits().data,
                            c.targets().data, c.losses().data, c.dlogits().data, c.scalars().data, c.rows(), c.v());
                } else if (tuned) {
                    graph.task(gridName("xent_fwd_bwd", rows(c.rows())), CrossEntropy::forwardBackwardInPlaceRows,
                            context, c.logits().data, c.targets().data, c.losses().data, c.scalars().data, c.v());
                } else {
                    graph.task(name("xent_fwd_bwd"), CrossEntropy::forwardBackwardInPlace, c.logits().data,
                            c.targets().data, c.losses().data, c.scalars().data, c.rows(), c.v());
                }
            }
            case EmbeddingForward c -> graph.task(name("embed_fwd"), Embedding::forward, c.tokens().data,
                    arr(c.wte()), off(c.wte()), c.out().data, c.rows(), c.c());
            case PositionsAdd c -> graph.task(name("positions_add"), Embedding::addPositions, arr(c.wpe()),
                    off(c.wpe()), c.out().data, c.rows(), c.seqLen(), c.posOffset(), c.c());
            case EmbeddingBackward c -> graph.task(name("embed_bwd"), Embedding::backward, c.tokens().data,
                    c.dout().data, arr(c.dwte()), off(c.dwte()), c.rows(), c.c());
            case PositionsBackward c -> graph.task(name("positions_bwd"), Embedding::positionsBackward,
                    c.dout().data, arr(c.dwpe()), off(c.dwpe()), c.rows(), c.seqLen(), c.c());
            case ResidualAdd c -> graph.task(name("residual"), Residual::add, c.x().data, c.y().data, c.n());
            case ResidualSum c -> graph.task(name("residual_sum"), Residual::sum, c.src().data, c.y().data, c.sum().data, c.n());
            case ResidualRmsNorm c -> {
                if (tuned) {
                    graph.task(gridName("residual_rmsnorm", rows(c.rows())), RmsNorm::residualForwardRows, context,
                            c.src().data, c.y().data, c.sum().data, arr(c.w()), off(c.w()), c.out().data, c.rstd().data, c.c());
                } else {
                    graph.task(name("residual_rmsnorm"), RmsNorm::residualForward, c.src().data, c.y().data,
                            c.sum().data, arr(c.w()), off(c.w()), c.out().data, c.rstd().data, c.rows(), c.c());
                }
            }
            case ResidualLayerNorm c -> {
                if (tuned) {
                    graph.task(gridName("residual_layernorm", rows(c.rows())), LayerNorm::residualForwardRows, context,
                            c.src().data, c.y().data, c.sum().data, arr(c.w()), off(c.w()), arr(c.b()), off(c.b()), c.out().data,
                            c.mean().data, c.rstd().data, c.c());
                } else {
                    graph.task(name("residual_layernorm"), LayerNorm::residualForward, c.src().data, c.y().data,
                            c.sum().data, arr(c.w()), off(c.w()), arr(c.b()), off(c.b()), c.out().data, c.mean().data,
                            c.rstd().data, c.rows(), c.c());
                }
            }
            case Zero c -> graph.task(name("zero"), Fill::zero, c.x().data, c.x().size());
            case ZeroFour c -> graph.task(name("zero"), Fill::zeroFour, c.a().data, c.b().data, c.c().data, c.d().data,
                    c.a().size(), c.b().size(), c.c().size(), c.d().size());
            case Copy c -> graph.task(name("copy"), Fill::copy, c.src().data, c.dst().data, c.n());
            case BlendForward c -> graph.task(name("blend_fwd"), Blend::forward, c.guide().data,
                    c.structured().data, c.scalars().data, c.switchSlot(), c.n());
            case BlendBackward c -> graph.task(name("blend_bwd"), Blend::backward, c.dout().data, c.dguide().data,
                    c.scalars().data, c.switchSlot(), c.n());
            case MatmulGeluForward c -> {
                float[] bias = c.bias() == null ? noBias : arr(c.bias());
                epilogueGemm("matmul_gelu_fwd", c.a().data, arr(c.b()), off(c.b()), bias, c.bias() == null ? 0 : off(c.bias()),
                        c.c().data, c.out().data, spare, c.m(), c.n(), c.k(),
                        TiledGemm.TRANS_B | TiledGemm.GELU | (c.bias() != null ? TiledGemm.BIAS : 0), 0);
            }
            case GuidedMatmulForward c -> epilogueGemm("guided_matmul_fwd", c.x().data, arr(c.guide()), off(c.guide()),
                    noBias, 0, c.y().data, c.g().data, c.scalars().data, c.m(), c.n(), c.k(), TiledGemm.TRANS_B | TiledGemm.BLEND, c.switchSlot());
            case BlendSplit c -> graph.task(name("blend_split"), Blend::split, c.dout().data, c.dstructured().data,
                    c.dguide().data, c.scalars().data, c.switchSlot(), c.n());
            // The device does not branch on a scalar it holds: the inner call always runs, and the
            // blend gives its result weight 0 while the switch is off.
            case WhenGuided c -> add(c.inner());
            case RopeRotateAt c -> graph.task(name("rope_at"), Rope::rotateAt, c.x().data, c.cos().data, c.sin().data,
                    c.pos().data, c.rows(), c.seqLen(), c.heads(), c.d(), c.rowStride(), 1f);
            case PositionsAddAt c -> graph.task(name("positions_add_at"), Embedding::addPositionsAt, arr(c.wpe()),
                    off(c.wpe()), c.out().data, c.pos().data, c.rows(), c.seqLen(), c.c());
            case LastRows c -> graph.task(name("last_rows"), Fill::lastRows, c.src().data, c.dst().data, c.batch(),
                    c.n(), c.c());
            case KvAppend c -> graph.task(name("kv_append"), KvCache::append, c.qkv().data, c.kcache().data,
                    c.vcache().data, c.pos().data, c.batch(), c.n(), c.maxLen(), c.nq(), c.nkv(), c.d());
            case KvAttention c -> {
                if (tuned) {
                    graph.task(gridName("kv_attention", rows(c.batch() * c.n() * c.nq())), KvCache::attentionRows, context,
                            c.qkv().data, c.kcache().data, c.vcache().data, c.out().data, c.scores().data, c.pos().data,
                            c.n(), c.maxLen(), c.nq(), c.nkv(), c.d());
                } else {
                    graph.task(name("kv_attention"), KvCache::attention, c.qkv().data, c.kcache().data, c.vcache().data,
                            c.out().data, c.scores().data, c.pos().data, c.batch(), c.n(), c.maxLen(), c.nq(), c.nkv(), c.d());
                }
            }
            case Bf16KvAppend c -> graph.task(name("bf16_kv_append"), KvCache::appendBf16, c.qkv().data, c.kcache().data,
                    c.vcache().data, c.pos().data, c.batch(), c.n(), c.maxLen(), c.nq(), c.nkv(), c.d());
            case Bf16KvAttention c -> {
                if (tuned) {
                    graph.task(gridName("bf16_kv_attention", rows(c.batch() * c.n() * c.nq())), KvCache::attentionRowsBf16,
                            context, c.qkv().data, c.kcache().data, c.vcache().data, c.out().data, c.scores().data,
                            c.pos().data, c.n(), c.maxLen(), c.nq(), c.nkv(), c.d());
                } else {
                    graph.task(name("bf16_kv_attention"), KvCache::attentionBf16, c.qkv().data, c.kcache().data,
                            c.vcache().data, c.out().data, c.scores().data, c.pos().data, c.batch(), c.n(), c.maxLen(), c.nq(),
                            c.nkv(), c.d());
                }
            }
            case AdamWUpdate c -> graph.task(name("adamw"), AdamW::update, c.p().data, c.g().data, c.m().data,
                    c.v().data, c.scalars().data, c.p().size(), c.beta1(), c.beta2(), c.eps(), c.weightDecay());
            case AdamWUpdateGroup c -> {
                // Parameter j past the group takes stand-ins 4 (j - 1) .. 4 (j - 1) + 3: a task takes
                // each array once.
                List<Tensor[]> ps = c.params();
                float[][] a = new float[4 * AdamW.GROUP][];
                for (int j = 0; j < AdamW.GROUP; j++) {
                    for (int k = 0; k < 4; k++) {
                        a[4 * j + k] = j < ps.size() ? ps.get(j)[k].data : unusedParams[4 * (j - 1) + k];
                    }
                }
                graph.task(name("adamw"), AdamW::updateGroup, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9],
                        a[10], a[11], c.scalars().data, c.hyper().data, ps.size());
            }
            case GradNormPartials c -> graph.task(name("gradnorm_partials"), GradNorm::partialSums, c.g().data,
                    c.partials().data, c.base(), c.g().size());
            case GradNormPartialsGroup c -> {
                // Slot i past the group's gradients takes stand-in i - 1: a task takes each array once.
                List<Tensor> grads = c.grads();
                float[][] g = new float[GradNorm.GROUP][];
                for (int i = 0; i < g.length; i++) g[i] = i < grads.size() ? grads.get(i).data : unusedGrads[i - 1];
                graph.task(name("gradnorm_partials"), GradNorm::partialSumsGroup, g[0], g[1], g[2], g[3], g[4], g[5], g[6],
                        g[7], c.partials().data, c.base(), grads.size());
            }
            case AdamWFlat c -> graph.task(name("adamw"), AdamW::updateFlat, c.pW().data, c.gW().data, c.mW().data,
                    c.vW().data, c.pB().data, c.gB().data, c.mB().data, c.vB().data, c.scalars().data, c.hyper().data, c.nW(),
                    c.nB(), c.decayW(), c.decayB());
            case GradNormFlat c -> graph.task(name("gradnorm_partials"), GradNorm::partialSumsFlat, c.gW().data, c.gB().data,
                    c.partials().data, c.slotOf().data, c.chunksW(), c.chunksB());
            case GradNormFinish c -> graph.task(name("gradnorm_finish"), GradNorm::finish, c.partials().data,
                    c.scalars().data, c.count(), c.maxNorm());
        }
    }
}
