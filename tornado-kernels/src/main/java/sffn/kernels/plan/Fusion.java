package sffn.kernels.plan;

import java.util.ArrayList;
import java.util.List;
import sffn.kernels.Tensor;
import sffn.kernels.plan.KernelCall.BiasAdd;
import sffn.kernels.plan.KernelCall.BlendBackward;
import sffn.kernels.plan.KernelCall.BlendForward;
import sffn.kernels.plan.KernelCall.BlendSplit;
import sffn.kernels.plan.KernelCall.GeluForward;
import sffn.kernels.plan.KernelCall.GuidedMatmulForward;
import sffn.kernels.plan.KernelCall.MatmulGeluForward;
import sffn.kernels.plan.KernelCall.Copy;
import sffn.kernels.plan.KernelCall.LayerNormForward;
import sffn.kernels.plan.KernelCall.MatmulForward;
import sffn.kernels.plan.KernelCall.ResidualAdd;
import sffn.kernels.plan.KernelCall.ResidualLayerNorm;
import sffn.kernels.plan.KernelCall.ResidualRmsNorm;
import sffn.kernels.plan.KernelCall.ResidualSum;
import sffn.kernels.plan.KernelCall.RmsNormForward;
import sffn.kernels.plan.KernelCall.WhenGuided;

/**
 * Merges adjacent calls of a section into one task where a device kernel does both: a matmul
 * forward that overwrites its output, followed by a bias add on that output, becomes one forward
 * with the bias (added in the GEMM's epilogue: {@code c = a b^T + bias}, the same sum in the same
 * order as the two calls); the residual stream's copy-then-add becomes one {@code sum = src + y}
 * and, with the layer norm or RMS norm of the sum right after it, one row kernel for all three; a
 * copy of an output gradient followed by the self-guided blend's backward on the copy becomes one
 * {@link BlendSplit}. With the register-tiled GEMM, two epilogues join a forward too: the GELU
 * that follows it ({@link MatmulGeluForward}: the pre-activation and the activation written by one
 * kernel) and, for a guide's product, the blend into the structured output
 * ({@link GuidedMatmulForward}). Every fused task writes every array the calls it replaces wrote,
 * with the same operations in the same order per element, so fused and unfused plans give the
 * same bits.
 *
 * <p>The CPU backend runs the merges of adjacent calls too ({@link #forCpu}).
 */
public final class Fusion {
    /** System property; {@code false} runs every call as its own device task (to count what fusion saves). */
    public static final String DEVICE_PROPERTY = "sffn.tornado.fuse";
    /** System property; {@code false} runs every call of a plan on the CPU as written. */
    public static final String CPU_PROPERTY = "sffn.cpu.fuse";

    private Fusion() {
    }

    public static boolean deviceEnabled() {
        return !"false".equalsIgnoreCase(System.getProperty(DEVICE_PROPERTY, "true"));
    }

    public static boolean cpuEnabled() {
        return !"false".equalsIgnoreCase(System.getProperty(CPU_PROPERTY, "true"));
    }

    /** @param registerGemm whether the matmul family runs register-tiled (the epilogue fusions need its kernels) */
    public static List<KernelCall> forDevice(List<KernelCall> calls, boolean registerGemm) {
        return pairs(adjacent(calls), registerGemm);
    }

    /**
     * The calls the CPU backend runs for {@code calls}: the residual stream's copy-then-add as one
     * sum, with the norm after it row by row while each row is in the cache, and bias adds into
     * the forwards before them. The GEMM epilogues are the device's alone: on the CPU (a 2-core
     * Zen 5 VM), a GELU or its derivative applied to each tile as the GEMM wrote it was no faster
     * than its own pass at the FFN shapes (1024 x 3072 x 768), and 5-8% slower for the backward,
     * whose reads of x and writes of dx likely push the GEMM's block of B (864 KiB) out of L2;
     * a bias added per tile saved nothing measurable either (its pass is 1-4% of the product).
     */
    public static List<KernelCall> forCpu(List<KernelCall> calls) {
        return adjacent(calls);
    }

    /** Residual sums and norms, and bias adds into forwards. */
    private static List<KernelCall> adjacent(List<KernelCall> calls) {
        List<KernelCall> out = new ArrayList<>(calls.size());
        for (int i = 0; i < calls.size(); i++) {
            KernelCall c = calls.get(i);
            ResidualSum sum = i + 1 < calls.size() ? residualSum(c, calls.get(i + 1)) : null;
            if (sum != null) {
                KernelCall next = i + 2 < calls.size() ? calls.get(i + 2) : null;
                if (next instanceof LayerNormForward l && l.x() == sum.sum() && (long) l.rows() * l.c() == sum.n()
                        && distinct(sum, l.w(), l.b(), l.out(), l.mean(), l.rstd())) {
                    out.add(new ResidualLayerNorm(sum.src(), sum.y(), sum.sum(), l.w(), l.b(), l.out(), l.mean(), l.rstd(),
                            l.rows(), l.c()));
                    i += 2;
                } else if (next instanceof RmsNormForward r && r.x() == sum.sum() && (long) r.rows() * r.c() == sum.n()
                        && distinct(sum, r.w(), r.w(), r.out(), r.rstd(), r.rstd())) {
                    out.add(new ResidualRmsNorm(sum.src(), sum.y(), sum.sum(), r.w(), r.out(), r.rstd(), r.rows(), r.c()));
                    i += 2;
                } else {
                    out.add(sum);
                    i++;
                }
            } else if (i + 1 < calls.size() && c instanceof MatmulForward mf && calls.get(i + 1) instanceof BiasAdd ba
                    && mf.bias() == null && !mf.accumulate() && ba.y() == mf.c() && ba.rows() == mf.m() && ba.cols() == mf.n()
                    && ba.bias() != mf.a() && ba.bias() != mf.b() && ba.bias() != mf.c()) {
                out.add(new MatmulForward(mf.a(), mf.b(), ba.bias(), mf.c(), mf.m(), mf.n(), mf.k(), false));
                i++;
            } else {
                out.add(c);
            }
        }
        return out;
    }

    /** The epilogue fusions and the blend's split, over the calls {@link #adjacent} left. */
    private static List<KernelCall> pairs(List<KernelCall> calls, boolean registerGemm) {
        List<KernelCall> out = new ArrayList<>(calls.size());
        for (int i = 0; i < calls.size(); i++) {
            KernelCall c = calls.get(i);
            KernelCall next = i + 1 < calls.size() ? calls.get(i + 1) : null;
            KernelCall fused = null;
            if (registerGemm && c instanceof MatmulForward mf && next instanceof GeluForward g) {
                fused = geluEpilogue(mf, g);
            } else if (registerGemm && c instanceof WhenGuided w && w.inner() instanceof MatmulForward mf
                    && next instanceof BlendForward b) {
                fused = blendEpilogue(w, mf, b);
            } else if (c instanceof Copy cp && next instanceof BlendBackward b && b.dout() == cp.dst() && b.n() == cp.n()
                    && cp.src() != cp.dst() && b.dguide() != cp.src() && b.dguide() != cp.dst()
                    && b.scalars() != cp.src() && b.scalars() != cp.dst() && b.scalars() != b.dguide()) {
                fused = new BlendSplit(cp.src(), cp.dst(), b.dguide(), b.scalars(), b.switchSlot(), b.n());
            }
            if (fused != null) {
                out.add(fused);
                i++;
            } else {
                out.add(c);
            }
        }
        return out;
    }

    /** A forward that overwrites c, then the GELU of exactly c into a separate array: one kernel. */
    private static MatmulGeluForward geluEpilogue(MatmulForward mf, GeluForward g) {
        if (mf.accumulate() || g.x() != mf.c() || (long) mf.m() * mf.n() != g.n()) return null;
        Tensor out = g.out();
        if (out == mf.a() || out == mf.b() || out == mf.c() || out == mf.bias()) return null;
        return new MatmulGeluForward(mf.a(), mf.b(), mf.bias(), mf.c(), out, mf.m(), mf.n(), mf.k());
    }

    /** The guide's product (a switched forward without bias) and its blend into y: one kernel. */
    private static GuidedMatmulForward blendEpilogue(WhenGuided w, MatmulForward mf, BlendForward b) {
        if (mf.accumulate() || mf.bias() != null || b.guide() != mf.c() || (long) mf.m() * mf.n() != b.n()
                || b.scalars() != w.scalars() || b.switchSlot() != w.switchSlot()) {
            return null;
        }
        Tensor y = b.structured();
        if (y == mf.a() || y == mf.b() || y == mf.c() || y == b.scalars()
                || b.scalars() == mf.a() || b.scalars() == mf.b() || b.scalars() == mf.c()) {
            return null;
        }
        return new GuidedMatmulForward(mf.a(), mf.b(), mf.c(), y, b.scalars(), b.switchSlot(), mf.m(), mf.n(), mf.k());
    }

    /**
     * {@code Copy(src -> dst)} then {@code ResidualAdd(dst += y)} over the same n floats, as the
     * residual stream's {@code next = prev + branch}: one {@link ResidualSum}; null otherwise.
     */
    private static ResidualSum residualSum(KernelCall first, KernelCall second) {
        if (first instanceof Copy cp && second instanceof ResidualAdd ra && ra.x() == cp.dst() && ra.n() == cp.n()
                && ra.y() != cp.dst() && ra.y() != cp.src() && cp.src() != cp.dst()) {
            return new ResidualSum(cp.src(), ra.y(), cp.dst(), cp.n());
        }
        return null;
    }

    /** The norm writes none of what the sum reads or writes, and reads the sum only as its input. */
    private static boolean distinct(ResidualSum s, Object w, Object b, Object out, Object stat1, Object stat2) {
        for (Object t : new Object[] {out, stat1, stat2}) {
            if (t == s.src() || t == s.y() || t == s.sum()) return false;
        }
        return w != s.sum() && b != s.sum();
    }
}
