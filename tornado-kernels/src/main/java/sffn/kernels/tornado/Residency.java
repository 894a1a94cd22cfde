package sffn.kernels.tornado;

import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import sffn.kernels.IntTensor;
import sffn.kernels.Tensor;
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

/**
 * Every prepared plan compiled into one TornadoVM execution plan whose task graphs share device
 * buffers: graph 0, the residency graph, allocates one device buffer per array of any plan
 * (parameters, gradients, optimizer state, activations, scratch) and uploads it; graph 1.. are the
 * plans' sections, one graph each, in plan order.
 *
 * <p>How the sharing works, and why this way: in TornadoVM 5.2 a graph that consumes an object
 * ({@code consumeFromDevice}) takes that object's device buffer from the graph the execution
 * plan ran last, not from the graph it names. So every graph consumes every array (it "carries"
 * the buffers of arrays it never touches) and persists them all: whatever ran last, the next graph
 * finds each buffer there. Buffers are never reallocated, so a parameter the optimizer plan
 * updates is the very buffer the training plan reads next. The host inputs of a plan are the
 * exception: the first section of the plan that reads one streams it in every run
 * ({@code EVERY_EXECUTION}) into a buffer of its own, which the later graphs then carry.
 * Nothing returns to the host unless asked ({@link #download}, from the graph that ran last).
 */
final class Residency implements AutoCloseable {
    private static final String RESIDENCY_GRAPH = "residency";

    private final TornadoExecutionPlan exec;
    private final Map<Plan, int[]> graphsOfPlan = new IdentityHashMap<>();
    private final Map<Object, Boolean> carriers;
    final int graphCount;
    final int taskCount;
    final double compileSeconds;
    private TornadoExecutionResult last;
    /** The residency graph has uploaded the host arrays since the build or the last {@link #invalidateUpload}. */
    private boolean uploaded;
    /** A plan ran since the upload: the device holds values the host arrays lack. */
    private boolean deviceAhead;

    private Residency(TornadoExecutionPlan exec, Map<Object, Boolean> carriers, int graphCount, int taskCount,
                      double compileSeconds) {
        this.exec = exec;
        this.carriers = carriers;
        this.graphCount = graphCount;
        this.taskCount = taskCount;
        this.compileSeconds = compileSeconds;
    }

    /** Builds and compiles the graphs of {@code plans} for {@code device}. */
    static Residency build(List<Plan> plans, TornadoDevice device, boolean tuned) {
        long t0 = System.nanoTime();
        float[] noBias = new float[1];
        Map<Object, Boolean> carriers = new IdentityHashMap<>();
        List<Object> ordered = new ArrayList<>();
        java.util.function.Consumer<Object> carry = a -> {
            if (carriers.put(a, Boolean.TRUE) == null) ordered.add(a);
        };
        carry.accept(noBias);
        for (Plan p : plans) {
            for (Plan.Section s : p.sections()) {
                for (KernelCall c : s.calls()) {
                    checkNoAliasing(p, c);
                    arrays(c, carry);
                }
            }
            for (Object t : p.hostInputs()) carry.accept(array(t));
            for (Object t : p.hostOutputs()) carry.accept(array(t));
        }
        for (Object a : ordered) {
            if (java.lang.reflect.Array.getLength(a) == 0) {
                throw new IllegalArgumentException("a plan holds an empty tensor; TornadoVM cannot allocate a device"
                        + " buffer of zero elements (plans: " + names(plans) + ")");
            }
        }
        Object[] all = ordered.toArray();

        List<ImmutableTaskGraph> graphs = new ArrayList<>();
        graphs.add(residencyGraph(ordered, all).snapshot());
        GridScheduler grids = new GridScheduler();
        int tasks = 0;
        Map<Plan, int[]> graphsOfPlan = new IdentityHashMap<>();
        for (int pi = 0; pi < plans.size(); pi++) {
            Plan p = plans.get(pi);
            Map<Object, Integer> firstSection = firstReads(p);
            List<Integer> indices = new ArrayList<>();
            List<Plan.Section> sections = p.sections();
            for (int si = 0; si < sections.size(); si++) {
                Plan.Section s = sections.get(si);
                if (s.calls().isEmpty()) continue;
                String name = "p" + pi + "s" + si;
                List<Object> owned = new ArrayList<>();
                for (Map.Entry<Object, Integer> e : firstSection.entrySet()) {
                    if (e.getValue() == si) owned.add(e.getKey());
                }
                List<Object> consumed = new ArrayList<>(ordered.size());
                Map<Object, Boolean> ownedSet = new IdentityHashMap<>();
                for (Object o : owned) ownedSet.put(o, Boolean.TRUE);
                for (Object a : ordered) if (!ownedSet.containsKey(a)) consumed.add(a);
                TaskGraph tg = new TaskGraph(name);
                if (!consumed.isEmpty()) tg.consumeFromDevice(consumed.toArray());
                if (!owned.isEmpty()) tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, owned.toArray());
                TaskMapper mapper = new TaskMapper(tg, name, grids, tuned, noBias);
                for (KernelCall c : s.calls()) mapper.add(c);
                tg.persistOnDevice(all);
                tasks += mapper.tasks();
                indices.add(graphs.size());
                graphs.add(tg.snapshot());
            }
            graphsOfPlan.put(p, indices.stream().mapToInt(Integer::intValue).toArray());
        }
        TornadoExecutionPlan exec = new TornadoExecutionPlan(graphs.toArray(new ImmutableTaskGraph[0]));
        exec.withDevice(device);
        if (!grids.keySet().isEmpty()) exec.withGridScheduler(grids);
        try {
            exec.withPreCompilation();
        } catch (java.nio.BufferOverflowException e) {
            throw new IllegalStateException("TornadoVM's graph bytecode buffer is too small for these plans (" + ordered.size()
                    + " device arrays, " + graphs.size() + " graphs); raise it with -Dtornado.tvm.maxbytecodesize=<bytes> (now "
                    + System.getProperty("tornado.tvm.maxbytecodesize", "4096") + ")", e);
        }
        Residency r = new Residency(exec, carriers, graphs.size(), tasks, (System.nanoTime() - t0) / 1e9);
        r.graphsOfPlan.putAll(graphsOfPlan);
        return r;
    }

    /** Allocates and uploads every array; the touch tasks only make TornadoVM do that. */
    private static TaskGraph residencyGraph(List<Object> ordered, Object[] all) {
        TaskGraph tg = new TaskGraph(RESIDENCY_GRAPH).transferToDevice(DataTransferMode.EVERY_EXECUTION, all);
        float[] sink = new float[1];
        List<Object> extras = new ArrayList<>();
        extras.add(sink);
        List<float[]> floats = new ArrayList<>();
        List<int[]> ints = new ArrayList<>();
        for (Object a : ordered) {
            if (a instanceof float[] f) floats.add(f);
            else ints.add((int[]) a);
        }
        // A task must not take one array twice, so short groups are padded with distinct one-element arrays.
        List<float[][]> floatGroups = new ArrayList<>();
        for (int i = 0; i < floats.size(); i += Touch.WIDTH) {
            float[][] g = new float[Touch.WIDTH][];
            for (int j = 0; j < Touch.WIDTH; j++) {
                if (i + j < floats.size()) {
                    g[j] = floats.get(i + j);
                } else {
                    g[j] = new float[1];
                    extras.add(g[j]);
                }
            }
            floatGroups.add(g);
        }
        List<int[][]> intGroups = new ArrayList<>();
        for (int i = 0; i < ints.size(); i += Touch.WIDTH) {
            int[][] g = new int[Touch.WIDTH][];
            for (int j = 0; j < Touch.WIDTH; j++) {
                if (i + j < ints.size()) {
                    g[j] = ints.get(i + j);
                } else {
                    g[j] = new int[1];
                    extras.add(g[j]);
                }
            }
            intGroups.add(g);
        }
        tg.transferToDevice(DataTransferMode.FIRST_EXECUTION, extras.toArray());
        int task = 0;
        for (float[][] g : floatGroups) {
            tg.task("touch" + task++, Touch::floats, sink, g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9],
                    g[10], g[11], g[12], g[13]);
        }
        for (int[][] g : intGroups) {
            tg.task("touch" + task++, Touch::ints, sink, g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9],
                    g[10], g[11], g[12], g[13]);
        }
        return tg.persistOnDevice(all);
    }

    /** For each host input of {@code p}, the index of the first section that reads it. */
    private static Map<Object, Integer> firstReads(Plan p) {
        Map<Object, Boolean> inputs = new IdentityHashMap<>();
        for (Object t : p.hostInputs()) inputs.put(array(t), Boolean.TRUE);
        Map<Object, Integer> first = new LinkedHashMap<>();
        Map<Object, Boolean> seen = new IdentityHashMap<>();
        List<Plan.Section> sections = p.sections();
        for (int si = 0; si < sections.size(); si++) {
            int section = si;
            for (KernelCall c : sections.get(si).calls()) {
                arrays(c, a -> {
                    if (inputs.containsKey(a) && seen.put(a, Boolean.TRUE) == null) first.put(a, section);
                });
            }
        }
        return first;
    }

    static Object array(Object tensor) {
        if (tensor instanceof Tensor t) return t.data;
        if (tensor instanceof IntTensor t) return t.data;
        throw new IllegalArgumentException("not a tensor: " + tensor);
    }

    /** Every array a call reads or writes (through its record components; WhenGuided's inner call too). */
    static void arrays(KernelCall call, java.util.function.Consumer<Object> out) {
        for (RecordComponent rc : call.getClass().getRecordComponents()) {
            Object v;
            try {
                v = rc.getAccessor().invoke(call);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot read " + rc.getName() + " of " + call, e);
            }
            if (v instanceof Tensor t) out.accept(t.data);
            else if (v instanceof IntTensor t) out.accept(t.data);
            else if (v instanceof KernelCall k) arrays(k, out);
        }
    }

    /** A TornadoVM task that takes one array twice never finishes compiling; refuse it with a name. */
    private static void checkNoAliasing(Plan p, KernelCall call) {
        if (call instanceof CrossEntropyForwardBackward c && c.dlogits() == c.logits()) return; // in-place body
        Map<Object, Boolean> seen = new IdentityHashMap<>();
        arrays(call, a -> {
            if (seen.put(a, Boolean.TRUE) != null) {
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

    boolean holds(Plan p) {
        return graphsOfPlan.containsKey(p);
    }

    boolean carries(Object array) {
        return carriers.containsKey(array);
    }

    Collection<Object> carried() {
        return carriers.keySet();
    }

    boolean uploaded() {
        return uploaded;
    }

    boolean deviceAhead() {
        return deviceAhead;
    }

    /** Copies every host array to its device buffer (graph 0). */
    void upload() {
        last = exec.withGraph(0).execute();
        uploaded = true;
        deviceAhead = false;
    }

    /** The host will rewrite some arrays: the next run must upload again. */
    void invalidateUpload() {
        uploaded = false;
    }

    void run(Plan p) {
        for (int g : graphsOfPlan.get(p)) last = exec.withGraph(g).execute();
        deviceAhead = true;
    }

    /** Copies these carried arrays from the device to the host. */
    void download(Object... arrays) {
        if (last != null && arrays.length > 0) last.transferToHost(arrays);
    }

    @Override
    public void close() {
        try {
            exec.freeDeviceMemory();
            exec.close();
        } catch (Exception e) {
            throw new IllegalStateException("TornadoVM could not release the device memory of the plans: " + e.getMessage(), e);
        }
    }
}
