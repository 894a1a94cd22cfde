package sffn.train.dist;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import sffn.kernels.Tensor;
import sffn.kernels.backend.Backend;
import sffn.kernels.plan.KernelCall;
import sffn.kernels.plan.Plan;
import sffn.nn.Parameter;

/**
 * Moves one step's gradients between the ranks, between backward and the optimizer.
 *
 * <p>Layout: every parameter has a place in one off-heap float buffer, in the order in which the
 * training plan finishes its gradient (the section of the last call that touches it: layers in
 * reverse, the tied embedding last). Kernels work on heap arrays and a native library may read
 * the buffer while Java runs on, so gradients are copied in and out (one memcpy each way).
 *
 * <p>Plain data parallelism: the buffer is cut into buckets of about {@code bucketBytes}; as soon
 * as backward has finished every gradient of a bucket, the bucket is copied in and its
 * non-blocking all-reduce starts, overlapping with the rest of backward; {@link #finish} waits for
 * all and copies the sums back. The loss is scaled by the global token count, so the sum is the
 * global mean gradient.
 *
 * <p>ZeRO-1: each rank owns a contiguous run of whole parameters (about 1/N of the elements) and
 * keeps AdamW state for those only; {@link #reduceScatter} leaves each rank the summed gradients of
 * what it owns, it updates them, and {@link #allGatherWeights} sends every rank the new weights.
 */
public final class GradientExchange implements AutoCloseable {
    private final Collective comm;
    private final Backend backend;
    private final Plan plan;
    private final List<Parameter> order;
    private final long[] offset;
    private final int[] bucketStart;
    private final int[] bucketReadyAt;
    private final Collective.Request[] requests;
    private final int[] shardCounts;
    private final int ownFrom;
    private final int ownTo;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment flat;
    private int launched;
    private long waitNanos;
    private long copyNanos;

    /**
     * @param params      the model's parameters, all with gradients
     * @param plan        the training plan whose sections produce the gradients
     * @param bucketBytes target bucket size for the all-reduce
     */
    public GradientExchange(Collective comm, Backend backend, Plan plan, List<Parameter> params, long bucketBytes) {
        this.comm = comm;
        this.backend = backend;
        this.plan = plan;
        Map<Tensor, Integer> last = lastSectionTouching(plan);
        List<Parameter> sorted = new ArrayList<>(params);
        // Stable sort: parameters finished in the same section keep the model's order.
        sorted.sort(Comparator.comparingInt(p -> last.getOrDefault(p.grad(), -1)));
        order = List.copyOf(sorted);
        offset = new long[order.size() + 1];
        for (int i = 0; i < order.size(); i++) offset[i + 1] = offset[i] + order.get(i).size();
        long total = offset[order.size()];
        flat = arena.allocate(JAVA_FLOAT, Math.max(1, total));

        List<Integer> starts = new ArrayList<>();
        List<Integer> readyAt = new ArrayList<>();
        long bucketFloats = Math.max(1, bucketBytes / Float.BYTES);
        for (int i = 0; i < order.size(); i++) {
            int ready = last.getOrDefault(order.get(i).grad(), -1);
            boolean fresh = starts.isEmpty() || offset[i] - offset[starts.getLast()] >= bucketFloats
                    || offset[i + 1] - offset[starts.getLast()] > Integer.MAX_VALUE;
            if (fresh) {
                starts.add(i);
                readyAt.add(ready);
            } else {
                readyAt.set(readyAt.size() - 1, ready);
            }
        }
        bucketStart = new int[starts.size() + 1];
        bucketReadyAt = new int[starts.size()];
        for (int b = 0; b < starts.size(); b++) {
            bucketStart[b] = starts.get(b);
            bucketReadyAt[b] = readyAt.get(b);
        }
        bucketStart[starts.size()] = order.size();
        requests = new Collective.Request[starts.size()];

        // ZeRO-1 shards: rank r owns the parameters whose first element lies in [r, r+1) * total / N.
        int n = comm.size();
        shardCounts = new int[n];
        int from = 0;
        int to = 0;
        for (int i = 0; i < order.size(); i++) {
            int owner = (int) Math.min(n - 1, offset[i] * n / Math.max(1, total));
            shardCounts[owner] = Math.addExact(shardCounts[owner], order.get(i).size());
            if (owner < comm.rank()) from = i + 1;
            if (owner <= comm.rank()) to = i + 1;
        }
        ownFrom = from;
        ownTo = Math.max(from, to);
    }

    /** For each tensor, the index of the last plan section with a call that takes it. */
    static Map<Tensor, Integer> lastSectionTouching(Plan plan) {
        Map<Tensor, Integer> last = new IdentityHashMap<>();
        List<Plan.Section> sections = plan.sections();
        for (int s = 0; s < sections.size(); s++) {
            for (KernelCall c : sections.get(s).calls()) collectTensors(c, s, last);
        }
        return last;
    }

    private static void collectTensors(KernelCall call, int section, Map<Tensor, Integer> last) {
        for (RecordComponent rc : call.getClass().getRecordComponents()) {
            Object v;
            try {
                v = rc.getAccessor().invoke(call);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot read " + rc.getName() + " of " + call.getClass().getSimpleName(), e);
            }
            if (v instanceof Tensor t) last.put(t, section);
            else if (v instanceof KernelCall inner) collectTensors(inner, section, last);
        }
    }

    /** Parameters in buffer order (the order backward finishes them). */
    public List<Parameter> order() {
        return order;
    }

    /** Number of all-reduce buckets. */
    public int buckets() {
        return requests.length;
    }

    /** The parameters this rank updates under ZeRO-1. */
    public List<Parameter> owned() {
        return order.subList(ownFrom, ownTo);
    }

    // ---- plain data parallelism: bucketed all-reduce overlapping backward ------------------

    /** Called as the training plan's section {@code section} ends: starts every bucket backward has completed. */
    public void sectionDone(int section) {
        while (launched < requests.length && bucketReadyAt[launched] <= section) launch(launched++);
        // Open MPI progresses non-blocking collectives only inside MPI calls: poke the ones in flight.
        for (int b = 0; b < launched; b++) requests[b].test();
    }

    private void launch(int b) {
        int from = bucketStart[b];
        int to = bucketStart[b + 1];
        long t0 = System.nanoTime();
        Object[] grads = new Object[to - from];
        for (int i = from; i < to; i++) grads[i - from] = order.get(i).grad();
        backend.toHost(plan, grads);
        for (int i = from; i < to; i++) copyIn(order.get(i).grad(), i);
        copyNanos += System.nanoTime() - t0;
        requests[b] = comm.allReduceSumAsync(flat, offset[from], (int) (offset[to] - offset[from]));
    }

    /** Starts the buckets not started yet, waits for all and leaves the summed gradients in every parameter's grad. */
    public void finish() {
        while (launched < requests.length) launch(launched++);
        List<Object> grads = new ArrayList<>();
        for (int b = 0; b < requests.length; b++) {
            long t0 = System.nanoTime();
            requests[b].await();
            long t1 = System.nanoTime();
            for (int i = bucketStart[b]; i < bucketStart[b + 1]; i++) {
                copyOut(i, order.get(i).grad());
                grads.add(order.get(i).grad());
            }
            waitNanos += t1 - t0;
            copyNanos += System.nanoTime() - t1;
            requests[b] = null;
        }
        launched = 0;
        backend.toDevice(plan, grads.toArray());
    }

    // ---- ZeRO-1 ----------------------------------------------------------------------------

    /** Sums the gradients over the ranks, leaving this rank's shard (its {@link #owned} parameters) correct. */
    public void reduceScatter() {
        long t0 = System.nanoTime();
        Object[] grads = order.stream().map(Parameter::grad).toArray();
        backend.toHost(plan, grads);
        for (int i = 0; i < order.size(); i++) copyIn(order.get(i).grad(), i);
        long t1 = System.nanoTime();
        comm.reduceScatterSum(flat, shardCounts);
        long t2 = System.nanoTime();
        for (int i = ownFrom; i < ownTo; i++) copyOut(i, order.get(i).grad());
        backend.toDevice(plan, owned().stream().map(Parameter::grad).toArray());
        waitNanos += t2 - t1;
        copyNanos += (t1 - t0) + (System.nanoTime() - t2);
    }

    /** Sum of squares of this rank's shard of the (summed) gradients, for the global norm. */
    public double ownedGradSquares() {
        double s = 0;
        for (Parameter p : owned()) {
            for (float g : p.grad().data) s += (double) g * g;
        }
        return s;
    }

    /** After each rank updated its shard: every rank receives every shard's new weights. */
    public void allGatherWeights() {
        gather(p -> p.value, true);
    }

    /**
     * Collects the AdamW moments of every shard on rank 0 (for a checkpoint), or on every rank
     * (before the shards are cut anew); the others take part but keep only their own.
     */
    public void gatherMoments(boolean everyRank) {
        boolean keep = everyRank || comm.rank() == 0;
        gather(Parameter::adamM, keep);
        gather(Parameter::adamV, keep);
    }

    private void gather(java.util.function.Function<Parameter, Tensor> which, boolean keep) {
        long t0 = System.nanoTime();
        backend.toHost(plan, owned().stream().map(which).toArray());
        for (int i = ownFrom; i < ownTo; i++) copyIn(which.apply(order.get(i)), i);
        long t1 = System.nanoTime();
        comm.allGather(flat, shardCounts);
        long t2 = System.nanoTime();
        if (keep) {
            List<Object> changed = new ArrayList<>();
            for (int i = 0; i < order.size(); i++) {
                if (i >= ownFrom && i < ownTo) continue;
                copyOut(i, which.apply(order.get(i)));
                changed.add(which.apply(order.get(i)));
            }
            backend.toDevice(plan, changed.toArray());
        }
        waitNanos += t2 - t1;
        copyNanos += (t1 - t0) + (System.nanoTime() - t2);
    }

    private void copyIn(Tensor t, int i) {
        MemorySegment.copy(t.data, 0, flat, JAVA_FLOAT, offset[i] * Float.BYTES, t.size());
    }

    private void copyOut(int i, Tensor t) {
        MemorySegment.copy(flat, JAVA_FLOAT, offset[i] * Float.BYTES, t.data, 0, t.size());
    }

    /** Seconds spent blocked on communication and copying between heap and buffer since the last call; resets both. */
    public double[] takeSeconds() {
        double[] r = {waitNanos / 1e9, copyNanos / 1e9};
        waitNanos = 0;
        copyNanos = 0;
        return r;
    }

    @Override
    public void close() {
        arena.close();
    }
}
