package sffn.kernels.backend;

import java.util.List;
import java.util.function.IntConsumer;
import sffn.kernels.cpu.Vec;
import sffn.kernels.cpu.Workers;
import sffn.kernels.plan.Fusion;
import sffn.kernels.plan.KernelCall;
import sffn.kernels.plan.Plan;

/**
 * Runs every call's CPU body on the host arrays, on all cores, after {@link Fusion#forCpu}
 * (adjacent calls its fused bodies do in one pass; the same bits; {@code -Dsffn.cpu.fuse=false}
 * runs the plans as written). With profiling on, it also accumulates wall time per kind of call,
 * for {@link #profile()}.
 */
public final class CpuBackend implements Backend {
    private final boolean profiling;
    private final boolean fuse;
    private volatile boolean recording = true;
    private volatile String scope;
    private final KernelTimes times = new KernelTimes();

    public CpuBackend() {
        this(KernelTimes.requested());
    }

    public CpuBackend(boolean profiling) {
        this(profiling, Fusion.cpuEnabled());
    }

    /** @param fuse whether to run {@link Fusion#forCpu} of each section (false: the plans as written) */
    public CpuBackend(boolean profiling, boolean fuse) {
        this.profiling = profiling;
        this.fuse = fuse;
    }

    @Override
    public String describe() {
        return "cpu (" + Workers.pool().threads() + " threads, " + Vec.S.vectorBitSize() + "-bit vectors)";
    }

    @Override
    public void prepare(Plan plan) {
    }

    @Override
    public void run(Plan plan) {
        for (Plan.Section s : plan.sections()) runSection(s);
    }

    @Override
    public void run(Plan plan, IntConsumer sectionDone) {
        List<Plan.Section> sections = plan.sections();
        for (int i = 0; i < sections.size(); i++) {
            runSection(sections.get(i));
            sectionDone.accept(i);
        }
    }

    private void runSection(Plan.Section s) {
        // Fusing costs a pass over the calls' references, microseconds beside the kernels; kept
        // per run rather than cached, as plans are built at any time and never unregistered.
        List<KernelCall> calls = fuse && s.calls().size() > 1 ? Fusion.forCpu(s.calls()) : s.calls();
        for (KernelCall c : calls) {
            if (!profiling) {
                c.runCpu();
                continue;
            }
            long t0 = System.nanoTime();
            c.runCpu();
            if (!recording) continue;
            times.add(c.getClass().getSimpleName(), System.nanoTime() - t0, 1);
        }
    }

    /**
     * With profiling on, whether calls count towards {@link #profile()}: a benchmark turns it off
     * while it warms up, when the kernels still run interpreted, tens of times slower.
     */
    public void recording(boolean on) {
        recording = on;
    }

    /** What the profile counts, printed in its heading (e.g. "training steps after the first 3"). */
    public void profileScope(String scope) {
        this.scope = scope;
    }

    /** Whether this backend times its calls (--profile). */
    public boolean profiling() {
        return profiling;
    }

    /** Time per kind of call since the start, largest first; empty unless profiling. */
    public String profile() {
        return times.table();
    }

    @Override
    public void toDevice(Plan plan, Object... tensors) {
    }

    @Override
    public void toHost(Plan plan, Object... tensors) {
    }

    @Override
    public void release(Plan plan) {
    }

    @Override
    public void close() {
        if (profiling && !times.isEmpty()) {
            String heading = "time per kernel call kind (--profile" + (scope == null ? "" : ", " + scope) + "):";
            System.err.print(heading + "\n" + profile());
        }
    }
}
