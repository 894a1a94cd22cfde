package sffn.kernels.plan;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * An ordered list of kernel calls over named tensors, cut into sections (e.g. one per
 * transformer layer), that either backend can run. It also says which tensors the host writes
 * before each run ({@link #hostInputs}) and which it may read after ({@link #hostOutputs}); every
 * other tensor may live on the device only.
 */
public final class Plan {

    /** A named run of calls; a device backend compiles one graph per section. */
    public record Section(String name, List<KernelCall> calls) {
    }

    private final String name;
    private final List<Section> sections = new ArrayList<>();
    private final Set<Object> hostInputs = new LinkedHashSet<>();
    private final Set<Object> hostOutputs = new LinkedHashSet<>();
    private List<KernelCall> current;

    public Plan(String name) {
        this.name = name;
    }

    public String name() {
        return name;
    }

    /** Starts a new section; calls added after go into it. */
    public Plan section(String sectionName) {
        current = new ArrayList<>();
        sections.add(new Section(sectionName, current));
        return this;
    }

    public Plan add(KernelCall call) {
        if (current == null) section(name);
        current.add(call);
        return this;
    }

    /** Tensors ({@code Tensor} or {@code IntTensor}) the host rewrites before every run. */
    public Plan hostInputs(Object... tensors) {
        Collections.addAll(hostInputs, tensors);
        return this;
    }

    /** Tensors the host reads after a run, on demand. */
    public Plan hostOutputs(Object... tensors) {
        Collections.addAll(hostOutputs, tensors);
        return this;
    }

    public List<Section> sections() {
        return Collections.unmodifiableList(sections);
    }

    public Set<Object> hostInputs() {
        return Collections.unmodifiableSet(hostInputs);
    }

    public Set<Object> hostOutputs() {
        return Collections.unmodifiableSet(hostOutputs);
    }

    public int size() {
        int n = 0;
        for (Section s : sections) n += s.calls().size();
        return n;
    }

    /**
     * A plan with the same sections, host inputs and outputs, whose calls are {@code f} of this
     * plan's, in order ({@code f} may replace one call by several).
     */
    public Plan rewritten(String newName, Function<KernelCall, List<KernelCall>> f) {
        Plan p = new Plan(newName);
        for (Section s : sections) {
            p.section(s.name());
            for (KernelCall c : s.calls()) {
                for (KernelCall d : f.apply(c)) p.add(d);
            }
        }
        p.hostInputs.addAll(hostInputs);
        p.hostOutputs.addAll(hostOutputs);
        return p;
    }

    /** Runs every call's CPU body in order. */
    public void runCpu() {
        for (Section s : sections) {
            for (KernelCall c : s.calls()) c.runCpu();
        }
    }
}
