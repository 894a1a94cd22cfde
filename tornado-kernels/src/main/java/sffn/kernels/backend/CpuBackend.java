package sffn.kernels.backend;

import sffn.kernels.cpu.Workers;
import sffn.kernels.plan.Plan;

/** Runs every call's CPU body on the host arrays, on all cores. */
public final class CpuBackend implements Backend {

    @Override
    public String describe() {
        return "cpu (" + Workers.pool().threads() + " threads, " + jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize() + "-bit vectors)";
    }

    @Override
    public void prepare(Plan plan) {
    }

    @Override
    public void run(Plan plan) {
        plan.runCpu();
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
    }
}
