package sffn.kernels.tornado;

import java.util.ArrayList;
import java.util.List;
import sffn.kernels.plan.KernelCall;
import sffn.kernels.plan.KernelCall.BiasAdd;
import sffn.kernels.plan.KernelCall.MatmulForward;

/**
 * Merges adjacent calls of a section into one task where a device kernel does both: a matmul
 * forward that overwrites its output, followed by a bias add on that output, becomes one forward
 * with the bias (added in the GEMM's epilogue: {@code c = a b^T + bias}, the same sum in the same
 * order as the two calls). The CPU backend runs plans as written; only the launches change.
 */
final class Fusion {
    /** System property; {@code false} runs every call as its own task (to count what fusion saves). */
    static final String PROPERTY = "sffn.tornado.fuse";

    private Fusion() {
    }

    static boolean enabled() {
        return !"false".equalsIgnoreCase(System.getProperty(PROPERTY, "true"));
    }

    static List<KernelCall> fuse(List<KernelCall> calls) {
        List<KernelCall> out = new ArrayList<>(calls.size());
        for (int i = 0; i < calls.size(); i++) {
            KernelCall c = calls.get(i);
            if (i + 1 < calls.size() && c instanceof MatmulForward mf && calls.get(i + 1) instanceof BiasAdd ba
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
}
