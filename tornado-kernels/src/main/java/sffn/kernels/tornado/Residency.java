package sffn.kernels.tornado;

import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import sffn.kernels.AdamW;
import sffn.kernels.ByteTensor;
import sffn.kernels.GradNorm;
import sffn.kernels.IntTensor;
import sffn.kernels.ShortTensor;
import sffn.kernels.Tensor;
import sffn.kernels.backend.KernelTimes;
import sffn.kernels.plan.Fusion;
import sffn.kernels.plan.KernelCall;
import sffn.kernels.plan.KernelCall.CrossEntropyForwardBackward;
import sffn.kernels.plan.Plan;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.ImmutableTaskGraph;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoExecutionResult;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.enums.ProfilerMode;

/**
 * Every prepared plan compiled into one TornadoVM execution plan whose task graphs share one
 * device buffer per array: parameters, gradients, optimizer state, activations and scratch live on
 * the device for the life of the backend, and a parameter the optimizer plan updates is the very
 * buffer the training plan reads next.
 *
 * <p>How, and why this way. TornadoVM 5.2 shares a buffer between graphs only through
 * {@code consumeFromDevice}, and a consuming graph takes the buffer from whichever graph the
 * execution plan ran just before it, not from the graph it names (with no entry for that graph, it
 * takes every consumed object from it, and gets nothing where that graph lacks one). A graph also
 * holds at most 1024 nodes, so no graph can hold every array of a real model. Instead, each array
 * has one <em>owner</em> graph that allocates and uploads it; each section of a plan becomes one
 * graph (several in order, if it uses many arrays) that consumes just the arrays its kernels use;
 * and buffers are wired into it once, before
 * its first run: a <em>holder</em> graph per owner has taken the owner's buffers, and a
 * <em>feeder</em> per section collects its arrays from the holders, then hands them to the section.
 * Every consuming graph names every graph of the plan (so TornadoVM never takes the "everything
 * from the last graph" path), each with a one-element anchor array all graphs hold, plus the real
 * arrays for exactly the one wiring step; the runtime therefore never replaces a wired buffer.
 * Holders and feeders run no kernel of the model (only {@link Touch#tick} on an array of their
 * own), so wiring has no effect on values.
 *
 * <p>Host inputs have owner graphs of their own that stream them in every time a plan that lists
 * them runs. Nothing returns to the host unless asked ({@link #download}), from the array's owner.
 */
final class Residency implements AutoCloseable {
    /**
     * System property; {@code false} keeps every parameter, gradient and moment in its own device
     * array (AdamW and the gradient norm then take several launches), as {@link FlatParams} does
     * anyway where the plans need it.
     */
    static final String FLAT_PROPERTY = "sffn.tornado.flatParams";
    /** Arrays per owner graph: far below the 1024-node limit of a TornadoVM graph. */
    private static final int OWNER_CHUNK = 48;
    /**
     * A section whose calls use more arrays than this, or has more calls, runs as several graphs
     * in order (the optimizer's one-section plans touch four arrays per parameter).
     */
    private static final int SECTION_ARRAYS = 64;
    private static final int SECTION_CALLS = 32;

    /** A graph of the execution plan and what it holds. */
    private static final class Graph {
        final int index;
        final String name;
        /** Arrays whose buffers this graph owns (owner graphs only). */
        final List<Object> owned = new ArrayList<>();
        /** For a section: the arrays its kernels use; for a holder or feeder: what it collects. */
        final List<Object> consumed = new ArrayList<>();
        /** Feeder of a section; holder of an owner. */
        Graph companion;
        boolean wired;

        Graph(int index, String name) {
            this.index = index;
            this.name = name;
        }
    }

    private final TornadoExecutionPlan exec;
    private final Map<Plan, List<Graph>> sectionsOfPlan;
    private final Map<Plan, List<Graph>> inputOwnersOfPlan;
    private final Map<Object, Graph> ownerOf;
    private final List<Graph> owners;
    final int graphCount;
    final int taskCount;
    /** Tasks (kernel launches) per run of each plan, e.g. {@code train step 412}. */
    final String tasksPerPlan;
    final double compileSeconds;
    private TornadoExecutionResult last;
    private int lastGraph = -1;
    /** With --profile: kernel times per kind, and how much of each graph's profiler log is read. */
    private final KernelTimes profile;
    private final int[] logRead;
    /** The owners have uploaded the host arrays since the build or the last {@link #invalidateUpload}. */
    private boolean uploaded;
    /** A plan ran since the upload: the device holds values the host arrays lack. */
    private boolean deviceAhead;
    /** The parameters in shared arrays (one AdamW launch), or null where each keeps its own. */
    private final FlatParams flat;
    /** Why the parameters keep their own arrays (null when they are shared). */
    final String flatWhy;

    private Residency(TornadoExecutionPlan exec, Map<Plan, List<Graph>> sectionsOfPlan, Map<Plan, List<Graph>> inputOwnersOfPlan,
                      Map<Object, Graph> ownerOf, List<Graph> owners, int graphCount, int taskCount, String tasksPerPlan,
                      double compileSeconds, KernelTimes profile, FlatParams flat, String flatWhy) {
        this.exec = exec;
        this.flat = flat;
        this.flatWhy = flatWhy;
        this.profile = profile;
        this.logRead = new int[graphCount];
        this.sectionsOfPlan = sectionsOfPlan;
        this.inputOwnersOfPlan = inputOwnersOfPlan;
        this.ownerOf = ownerOf;
        this.owners = owners;
        this.graphCount = graphCount;
        this.taskCount = taskCount;
        this.tasksPerPlan = tasksPerPlan;
        this.compileSeconds = compileSeconds;
    }

    /** Builds and compiles the graphs of {@code plans} for {@code device}. */
    static Residency build(List<Plan> plans, TornadoDevice device, boolean tuned, MatmulVariant matmul, KernelTimes profile) {
        MatmulVariant mm = tuned ? matmul : MatmulVariant.LOOP;
        long t0 = System.nanoTime();
        StandIns standIns = new StandIns(new float[1], new float[1], new float[GradNorm.GROUP - 1][1],
                new float[4 * (AdamW.GROUP - 1)][1]);
        float[] anchor = new float[1];

        // Every section as the device runs it: its neighbours merged, then (where the parameters
        // can share arrays) the optimizer's calls of a few tensors each as one launch each.
        List<List<List<KernelCall>>> runs = new ArrayList<>();
        List<List<KernelCall>> allSections = new ArrayList<>();
        for (Plan p : plans) {
            List<List<KernelCall>> sections = new ArrayList<>();
            for (Plan.Section s : p.sections()) {
                List<KernelCall> calls = s.calls();
                List<KernelCall> fused = Fusion.deviceEnabled() ? Fusion.forDevice(calls, mm.isRegister()) : calls;
                sections.add(fused);
                allSections.add(fused);
            }
            runs.add(sections);
        }
        FlatParams flat = null;
        String flatWhy = "-D" + FLAT_PROPERTY + "=false";
        if (!"false".equalsIgnoreCase(System.getProperty(FLAT_PROPERTY, "true"))) {
            FlatParams.Outcome o = FlatParams.plan(allSections, mm);
            flat = o.flat();
            flatWhy = o.why();
        }
        DeviceSlices slices = flat == null ? DeviceSlices.none() : flat.slices;
        if (flat != null) {
            for (List<List<KernelCall>> sections : runs) sections.replaceAll(flat::rewrite);
        }

        // Every array, host inputs apart.
        Map<Object, Boolean> inputs = new IdentityHashMap<>();
        List<Object> inputList = new ArrayList<>();
        for (Plan p : plans) {
            for (Object t : p.hostInputs()) {
                Object a = array(t);
                if (inputs.put(a, Boolean.TRUE) == null) inputList.add(a);
            }
        }
        Map<Object, Boolean> seen = new IdentityHashMap<>();
        List<Object> arrays = new ArrayList<>();
        Consumer<Object> collect = a -> {
            if (!inputs.containsKey(a) && seen.put(a, Boolean.TRUE) == null) arrays.add(a);
        };
        collect.accept(standIns.noBias());
        collect.accept(standIns.spare());
        for (float[] u : standIns.unusedGrads()) collect.accept(u);
        for (float[] u : standIns.unusedParams()) collect.accept(u);
        for (int pi = 0; pi < plans.size(); pi++) {
            Plan p = plans.get(pi);
            for (List<KernelCall> calls : runs.get(pi)) {
                for (KernelCall c : calls) {
                    checkNoAliasing(p, c, slices);
                    arrays(c, a -> collect.accept(slices.deviceArray(a)));
                }
            }
            for (Object t : p.hostOutputs()) collect.accept(slices.deviceArray(array(t)));
        }
        for (Object a : arrays) checkNotEmpty(a, plans);
        for (Object a : inputList) checkNotEmpty(a, plans);

        List<Graph> graphs = new ArrayList<>();
        List<Graph> owners = new ArrayList<>();
        Map<Object, Graph> ownerOf = new IdentityHashMap<>();
        for (int i = 0; i < arrays.size(); i += OWNER_CHUNK) {
            Graph o = new Graph(graphs.size(), "own" + owners.size());
            o.owned.addAll(arrays.subList(i, Math.min(arrays.size(), i + OWNER_CHUNK)));
            graphs.add(o);
            owners.add(o);
        }
        Map<Object, Graph> inputOwner = new IdentityHashMap<>();
        for (Object a : inputList) {
            Graph o = new Graph(graphs.size(), "in" + inputOwner.size());
            o.owned.add(a);
            graphs.add(o);
            owners.add(o);
            inputOwner.put(a, o);
        }
        for (Graph o : owners) {
            for (Object a : o.owned) ownerOf.put(a, o);
            Graph h = new Graph(graphs.size(), "hold" + o.name);
            h.consumed.addAll(o.owned);
            o.companion = h;
            graphs.add(h);
        }
        Map<Plan, List<Graph>> sectionsOfPlan = new IdentityHashMap<>();
        Map<Plan, List<Graph>> inputOwnersOfPlan = new IdentityHashMap<>();
        Map<Graph, List<KernelCall>> sectionOf = new LinkedHashMap<>();
        for (int pi = 0; pi < plans.size(); pi++) {
            Plan p = plans.get(pi);
            List<Graph> sections = new ArrayList<>();
            List<List<KernelCall>> ss = runs.get(pi);
            for (int si = 0; si < ss.size(); si++) {
                List<List<KernelCall>> chunks = chunks(ss.get(si), standIns, mm, slices);
                for (int ci = 0; ci < chunks.size(); ci++) {
                    Graph g = new Graph(graphs.size(), "p" + pi + "s" + si + (chunks.size() > 1 ? "c" + ci : ""));
                    Map<Object, Boolean> used = new IdentityHashMap<>();
                    for (KernelCall c : chunks.get(ci)) {
                        for (Object a : arraysOf(c, standIns, mm, slices)) {
                            if (used.put(a, Boolean.TRUE) == null) g.consumed.add(a);
                        }
                    }
                    graphs.add(g);
                    Graph f = new Graph(graphs.size(), "feed" + g.name);
                    f.consumed.addAll(g.consumed);
                    g.companion = f;
                    graphs.add(f);
                    sections.add(g);
                    sectionOf.put(g, chunks.get(ci));
                }
            }
            sectionsOfPlan.put(p, sections);
            List<Graph> ins = new ArrayList<>();
            for (Object t : p.hostInputs()) ins.add(inputOwner.get(array(t)));
            inputOwnersOfPlan.put(p, ins);
        }

        // Task graphs, in index order.
        GridScheduler grids = new GridScheduler();
        int tasks = 0;
        Map<Graph, Integer> tasksOfGraph = new IdentityHashMap<>();
        ImmutableTaskGraph[] snapshots = new ImmutableTaskGraph[graphs.size()];
        for (Graph g : graphs) {
            TaskGraph tg = new TaskGraph(g.name);
            if (!g.owned.isEmpty()) {
                ownerTasks(tg, g.owned, anchor);
            } else {
                // Consumers: one entry per graph of the execution plan; real arrays only for the wiring step.
                for (Graph from : graphs) {
                    List<Object> objs = new ArrayList<>(wiringStep(g, from, ownerOf, sectionOf.containsKey(g)));
                    objs.add(anchor);
                    tg.consumeFromDevice(from.name, objs.toArray());
                }
                List<KernelCall> calls = sectionOf.get(g);
                if (calls != null) {
                    TaskMapper mapper = new TaskMapper(tg, g.name, grids, tuned, mm, standIns, slices);
                    for (KernelCall c : calls) mapper.add(c);
                    tasks += mapper.tasks();
                    tasksOfGraph.put(g, mapper.tasks());
                } else {
                    float[] own = new float[1];
                    tg.transferToDevice(DataTransferMode.FIRST_EXECUTION, own).task("tick", Touch::tick, own);
                }
            }
            snapshots[g.index] = tg.snapshot();
        }
        TornadoExecutionPlan exec = new TornadoExecutionPlan(snapshots);
        exec.withDevice(device);
        if (!grids.keySet().isEmpty()) exec.withGridScheduler(grids);
        // SILENT: each execution's times are appended to the graph's log, read after each run.
        if (profile != null) exec.withProfiler(ProfilerMode.SILENT);
        try {
            exec.withPreCompilation();
        } catch (java.nio.BufferOverflowException e) {
            throw new IllegalStateException("TornadoVM's graph bytecode buffer is too small for these plans; raise it with"
                    + " -Dtornado.tvm.maxbytecodesize=<bytes> (now " + System.getProperty("tornado.tvm.maxbytecodesize", "4096") + ")", e);
        }
        List<String> perPlan = new ArrayList<>();
        for (Plan p : plans) {
            int n = 0;
            for (Graph g : sectionsOfPlan.get(p)) n += tasksOfGraph.getOrDefault(g, 0);
            perPlan.add(p.name() + " " + n);
        }
        return new Residency(exec, sectionsOfPlan, inputOwnersOfPlan, ownerOf, owners, graphs.size(), tasks,
                String.join(", ", perPlan), (System.nanoTime() - t0) / 1e9, profile, flat, flatWhy);
    }

    /**
     * The arrays consumer {@code g} takes over when it runs right after {@code from}: a holder from
     * its owner, a feeder from the holders, a section from its feeder; nothing otherwise.
     */
    private static List<Object> wiringStep(Graph g, Graph from, Map<Object, Graph> ownerOf, boolean isSection) {
        List<Object> out = new ArrayList<>();
        if (isSection) {
            if (g.companion == from) out.addAll(g.consumed);
        } else if (!from.owned.isEmpty()) {
            if (from.companion == g) out.addAll(from.owned); // holder <- owner
        } else {
            for (Object a : g.consumed) {                     // feeder <- holder
                Graph owner = ownerOf.get(a);
                if (owner != null && owner.companion == from) out.add(a);
            }
        }
        return out;
    }

    /** Allocates and uploads {@code owned} every time the graph runs; the touch tasks only make TornadoVM do that. */
    private static void ownerTasks(TaskGraph tg, List<Object> owned, float[] anchor) {
        List<Object> transfer = new ArrayList<>(owned);
        transfer.add(anchor);
        tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, transfer.toArray());
        float[] sink = new float[1];
        List<Object> extras = new ArrayList<>();
        extras.add(sink);
        List<Object> floats = new ArrayList<>();
        List<Object> ints = new ArrayList<>();
        List<Object> shorts = new ArrayList<>();
        List<Object> bytes = new ArrayList<>();
        for (Object a : transfer) {
            if (a instanceof float[]) floats.add(a);
            else if (a instanceof short[]) shorts.add(a);
            else if (a instanceof byte[]) bytes.add(a);
            else ints.add(a);
        }
        int task = 0;
        // A task must not take one array twice, so short groups are padded with distinct one-element arrays.
        for (int i = 0; i < floats.size(); i += Touch.WIDTH) {
            float[][] g = new float[Touch.WIDTH][];
            for (int j = 0; j < Touch.WIDTH; j++) {
                g[j] = i + j < floats.size() ? (float[]) floats.get(i + j) : pad(new float[1], extras);
            }
            tg.task("touch" + task++, Touch::floats, sink, g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9],
                    g[10], g[11], g[12], g[13]);
        }
        for (int i = 0; i < ints.size(); i += Touch.WIDTH) {
            int[][] g = new int[Touch.WIDTH][];
            for (int j = 0; j < Touch.WIDTH; j++) {
                g[j] = i + j < ints.size() ? (int[]) ints.get(i + j) : pad(new int[1], extras);
            }
            tg.task("touch" + task++, Touch::ints, sink, g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9],
                    g[10], g[11], g[12], g[13]);
        }
        for (int i = 0; i < shorts.size(); i += Touch.WIDTH) {
            short[][] g = new short[Touch.WIDTH][];
            for (int j = 0; j < Touch.WIDTH; j++) {
                g[j] = i + j < shorts.size() ? (short[]) shorts.get(i + j) : pad(new short[1], extras);
            }
            tg.task("touch" + task++, Touch::shorts, sink, g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9],
                    g[10], g[11], g[12], g[13]);
        }
        for (int i = 0; i < bytes.size(); i += Touch.WIDTH) {
            byte[][] g = new byte[Touch.WIDTH][];
            for (int j = 0; j < Touch.WIDTH; j++) {
                g[j] = i + j < bytes.size() ? (byte[]) bytes.get(i + j) : pad(new byte[1], extras);
            }
            tg.task("touch" + task++, Touch::bytes, sink, g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9],
                    g[10], g[11], g[12], g[13]);
        }
        tg.transferToDevice(DataTransferMode.FIRST_EXECUTION, extras.toArray());
        tg.persistOnDevice(transfer.toArray());
    }

    private static <T> T pad(T array, List<Object> extras) {
        extras.add(array);
        return array;
    }

    /**
     * One-element arrays a task takes in place of an absent bias, an unused epilogue array, the
     * gradients a grad-norm group lacks or the arrays of the parameters an AdamW group lacks
     * (each at most once).
     */
    record StandIns(float[] noBias, float[] spare, float[][] unusedGrads, float[][] unusedParams) {
    }

    /** Runs of consecutive calls, each within {@link #SECTION_ARRAYS} arrays and {@link #SECTION_CALLS} calls. */

    private static List<List<KernelCall>> chunks(List<KernelCall> calls, StandIns standIns, MatmulVariant mm,
                                                 DeviceSlices slices) {
        List<List<KernelCall>> out = new ArrayList<>();
        List<KernelCall> current = new ArrayList<>();
        Map<Object, Boolean> used = new IdentityHashMap<>();
        for (KernelCall c : calls) {
            List<Object> arrays = arraysOf(c, standIns, mm, slices);
            int fresh = 0;
            for (Object a : arrays) if (!used.containsKey(a)) fresh++;
            if (!current.isEmpty() && (used.size() + fresh > SECTION_ARRAYS || current.size() >= SECTION_CALLS)) {
                out.add(current);
                current = new ArrayList<>();
                used.clear();
            }
            current.add(c);
            for (Object a : arrays) used.put(a, Boolean.TRUE);
        }
        if (!current.isEmpty()) out.add(current);
        return out;
    }

    /** The arrays the tasks of a call take: its tensors, and the stand-ins where the kernel needs them. */
    private static List<Object> arraysOf(KernelCall c, StandIns standIns, MatmulVariant mm, DeviceSlices slices) {
        List<Object> out = new ArrayList<>();
        arrays(c, a -> {
            Object d = slices.deviceArray(a);
            if (!out.contains(d)) out.add(d);
        });
        if (needsNoBias(c, mm)) out.add(standIns.noBias());
        // The GELU epilogue's unused scalars.
        if (c instanceof KernelCall.MatmulGeluForward) out.add(standIns.spare());
        if (c instanceof KernelCall.GradNormPartialsGroup g) {
            for (int i = g.count(); i < GradNorm.GROUP; i++) out.add(standIns.unusedGrads()[i - 1]);
        }
        if (c instanceof KernelCall.AdamWUpdateGroup g) {
            for (int i = 4 * g.count(); i < 4 * AdamW.GROUP; i++) out.add(standIns.unusedParams()[i - 4]);
        }
        return out;
    }

    /**
     * The loop-parallel forward without a bias, and every register-tiled GEMM but a forward with one, take the stand-in
     * (cuBLAS and the 16 x 16 kernels never do).
     */
    private static boolean needsNoBias(KernelCall c, MatmulVariant mm) {
        if (c instanceof KernelCall.WhenGuided w) return needsNoBias(w.inner(), mm);
        if (c instanceof KernelCall.MatmulForward m) return m.bias() == null && mm != MatmulVariant.TILE16 && !mm.isCublas();
        if (c instanceof KernelCall.MatmulGeluForward m) return m.bias() == null;
        if (c instanceof KernelCall.GuidedMatmulForward) return true;
        return mm.isRegister() && (c instanceof KernelCall.MatmulBackwardInput || c instanceof KernelCall.MatmulBackwardWeight
                || c instanceof KernelCall.BlockDiagForward || c instanceof KernelCall.BlockDiagBackwardInput
                || c instanceof KernelCall.BlockDiagBackwardWeight);
    }

    private static void checkNotEmpty(Object a, List<Plan> plans) {
        if (java.lang.reflect.Array.getLength(a) == 0) {
            throw new IllegalArgumentException("a plan holds an empty tensor; TornadoVM cannot allocate a device"
                    + " buffer of zero elements (plans: " + names(plans) + ")");
        }
    }

    static Object array(Object tensor) {
        if (tensor instanceof Tensor t) return t.data;
        if (tensor instanceof IntTensor t) return t.data;
        if (tensor instanceof ShortTensor t) return t.data;
        if (tensor instanceof ByteTensor t) return t.data;
        throw new IllegalArgumentException("not a tensor: " + tensor);
    }

    /** Every array a call reads or writes (through its record components; WhenGuided's inner call too). */
    static void arrays(KernelCall call, Consumer<Object> out) {
        for (RecordComponent rc : call.getClass().getRecordComponents()) {
            Object v;
            try {
                v = rc.getAccessor().invoke(call);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot read " + rc.getName() + " of " + call, e);
            }
            if (v instanceof Tensor t) out.accept(t.data);
            else if (v instanceof IntTensor t) out.accept(t.data);
            else if (v instanceof ShortTensor t) out.accept(t.data);
            else if (v instanceof ByteTensor t) out.accept(t.data);
            else if (v instanceof KernelCall k) arrays(k, out);
        }
    }

    /** A TornadoVM task that takes one array twice never finishes compiling; refuse it with a name. */
    private static void checkNoAliasing(Plan p, KernelCall call, DeviceSlices slices) {
        if (call instanceof CrossEntropyForwardBackward c && c.dlogits() == c.logits()) return; // in-place body
        Map<Object, Boolean> seen = new IdentityHashMap<>();
        arrays(call, a -> {
            if (seen.put(slices.deviceArray(a), Boolean.TRUE) != null) {
                throw new IllegalArgumentException("plan '" + p.name() + "': " + call.getClass().getSimpleName()
                        + " passes one tensor twice; a TornadoVM task cannot take the same array twice. Give the"
                        + " kernel a separate output tensor (or an in-place portable body).");
            }
        });
    }

    private static String names(List<Plan> plans) {
        List<String> n = new ArrayList<>();
        for (Plan p : plans) n.add(p.name());
        return String.join(", ", n);
    }

    /** Whether the device holds this host array (in its own buffer, or as a slice of a shared one). */
    boolean carries(Object array) {
        return ownerOf.containsKey(array) || (flat != null && flat.isMember(array));
    }

    /** The host arrays the device holds: the parameters' own, not the shared ones they are slices of. */
    java.util.Collection<Object> carried() {
        if (flat == null) return ownerOf.keySet();
        List<Object> out = new ArrayList<>();
        for (Object a : ownerOf.keySet()) if (!flat.isShared(a)) out.add(a);
        out.addAll(flat.memberArrays());
        return out;
    }

    boolean uploaded() {
        return uploaded;
    }

    boolean deviceAhead() {
        return deviceAhead;
    }

    private void execute(Graph g) {
        last = exec.withGraph(g.index).execute();
        lastGraph = g.index;
        if (profile != null) {
            // The result's log is the selected graph's alone until the next withGraph.
            String log = last.getProfilerResult().getProfileLog();
            if (log.length() > logRead[g.index]) {
                ProfileLog.read(log.substring(logRead[g.index]), profile);
                logRead[g.index] = log.length();
            }
        }
    }

    /** Copies every host array to its device buffer, and lets each owner's holder take the buffers. */
    void upload() {
        if (flat != null) flat.gather();
        for (Graph o : owners) {
            execute(o);
            execute(o.companion);
        }
        uploaded = true;
        deviceAhead = false;
    }

    /** The host will rewrite some arrays: the next run must upload again. */
    void invalidateUpload() {
        uploaded = false;
    }

    void run(Plan p) {
        for (Graph in : inputOwnersOfPlan.get(p)) execute(in);
        for (Graph g : sectionsOfPlan.get(p)) {
            if (!g.wired) wire(g);
            execute(g);
        }
        deviceAhead = true;
    }

    /** Gives a section the buffers of its arrays: through its feeder, from each holder that has some. */
    private void wire(Graph g) {
        Graph feeder = g.companion;
        Map<Graph, Boolean> holders = new LinkedHashMap<>();
        for (Object a : g.consumed) holders.put(ownerOf.get(a).companion, Boolean.TRUE);
        for (Graph h : holders.keySet()) {
            execute(h);
            execute(feeder);
        }
        if (lastGraph != feeder.index) execute(feeder);
        g.wired = true;
    }

    /** Copies these arrays from the device to the host, each from the graph that owns its buffer. */
    void download(Object... arrays) {
        if (last == null || arrays.length == 0) return;
        Map<Graph, List<Object>> byOwner = new LinkedHashMap<>();
        Map<Object, Boolean> device = new IdentityHashMap<>();
        List<float[]> members = new ArrayList<>();
        for (Object a : arrays) {
            Object d = a;
            if (flat != null && flat.isMember(a)) {
                members.add((float[]) a);
                d = flat.sharedOf((float[]) a);
            }
            if (device.put(d, Boolean.TRUE) == null) byOwner.computeIfAbsent(ownerOf.get(d), k -> new ArrayList<>()).add(d);
        }
        for (Map.Entry<Graph, List<Object>> e : byOwner.entrySet()) {
            // The result's executor transfers from whichever graph is selected.
            exec.withGraph(e.getKey().index);
            last.transferToHost(e.getValue().toArray());
        }
        for (float[] m : members) flat.scatter(m);
    }

    @Override
    public void close() {
        try {
            exec.withAllGraphs();
            exec.freeDeviceMemory();
            exec.close();
        } catch (Exception e) {
            throw new IllegalStateException("TornadoVM could not release the device memory of the plans: " + e.getMessage(), e);
        }
    }
}
