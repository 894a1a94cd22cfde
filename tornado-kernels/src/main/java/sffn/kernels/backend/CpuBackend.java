package sffn.kernels.backend;

import java.util.List;
import java.util.function.IntConsumer;
import sffn.kernels.cpu.Vec;
import sffn.kernels.cpu.Workers;
import sffn.kernels.plan.KernelCall;
import sffn.kernels.plan.Plan;

/**
 * Runs every call's CPU body on the host arrays, on all cores. With profiling on, it also
 * accumulates wall time per kind of call, for {@link #profile()}.
 */
public final class CpuBackend implements Backend {
    private final boolean profiling;
    private volatile boolean recording = true;
    private final KernelTimes times = new KernelTimes();

    public CpuBackend() {
        this(KernelTimes.requested());
    }

    public CpuBackend(boolean profiling) {
        this.profiling = profiling;
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
        if (!profiling) {
            plan.runCpu();
            return;
        }
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
        for (KernelCall c : s.calls()) {
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
        if (profiling && !times.isEmpty()) System.err.print("time per kernel call kind (--profile):\n" + profile());
    }
}
