package sffn.kernels.backend;

import java.util.function.IntConsumer;
import sffn.kernels.plan.Plan;

/**
 * Runs plans. The CPU backend runs CPU bodies in place on the host arrays; a device backend
 * keeps tensors resident on its device and moves only what {@link #toDevice} and
 * {@link #toHost} name.
 */
public interface Backend extends AutoCloseable {

    /** A short description: {@code cpu (2 threads)}, {@code tornado 0:0 NVIDIA H200}, ... */
    String describe();

    /** Compiles or otherwise readies a plan; called once per plan before it runs. */
    void prepare(Plan plan);

    /** Runs a prepared plan. */
    void run(Plan plan);

    /**
     * Runs a prepared plan and calls {@code sectionDone} with each section's index once the host
     * may read what that section wrote (after {@link #toHost}). A backend that runs sections one
     * by one calls it as each ends, so the host can overlap work (communication) with the rest;
     * this default runs the whole plan first.
     */
    default void run(Plan plan, IntConsumer sectionDone) {
        run(plan);
        for (int i = 0; i < plan.sections().size(); i++) sectionDone.accept(i);
    }

    /** The host has rewritten these tensors (parameters loaded, guide dropped, ...): push them. */
    void toDevice(Plan plan, Object... tensors);

    /** Makes the host arrays of these tensors current. */
    void toHost(Plan plan, Object... tensors);

    /** Frees what a plan holds on the device; the plan must be prepared again before it runs. */
    void release(Plan plan);

    @Override
    void close();
}
