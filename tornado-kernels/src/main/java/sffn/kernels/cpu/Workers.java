package sffn.kernels.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * The CPU bodies' thread pool: one fixed set of daemon threads that spin briefly for the next
 * job before parking, so that back-to-back kernels of a training step do not pay an executor
 * hand-off each. The calling thread works too.
 *
 * <p>Work is handed out in chunks of {@code grain} indices from an atomic counter. Kernels are
 * written so that each output element is produced by exactly one chunk with a fixed reduction
 * order, so results never depend on which thread ran which chunk.
 */
public final class Workers {

    /** A body over the half-open index range {@code [from, to)}. */
    @FunctionalInterface
    public interface Range {
        void run(int from, int to);
    }

    private static final long SPIN_NANOS = 200_000;
    private static final Workers SHARED = new Workers(configuredThreads());

    private final Thread[] helpers;
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicInteger running = new AtomicInteger();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile long generation;
    private volatile Range job;
    private volatile int jobSize;
    private volatile int jobGrain;

    /** A pool of {@code threads} threads, the caller included; kernels use {@link #pool()}, tests build others. */
    Workers(int threads) {
        helpers = new Thread[Math.max(0, threads - 1)];
        for (int i = 0; i < helpers.length; i++) {
            helpers[i] = new Thread(this::loop, "sffn-worker-" + (i + 1));
            helpers[i].setDaemon(true);
            helpers[i].start();
        }
    }

    /** The process-wide pool; its size is {@code -Dsffn.threads} or the number of cores. */
    public static Workers pool() {
        return SHARED;
    }

    /** Threads that work on a job, the caller included. */
    public int threads() {
        return helpers.length + 1;
    }

    private static int configuredThreads() {
        String prop = System.getProperty("sffn.threads");
        if (prop != null && !prop.isBlank()) {
            try {
                int n = Integer.parseInt(prop.trim());
                if (n >= 1) return n;
            } catch (NumberFormatException ignored) {
                // fall through to the error below
            }
            throw new IllegalArgumentException("-Dsffn.threads=" + prop + " is not a positive integer");
        }
        return Runtime.getRuntime().availableProcessors();
    }

    /**
     * Runs {@code body} over {@code [0, n)} in chunks of {@code grain}, on all threads, and
     * returns when every chunk is done. A call from inside a job runs sequentially.
     */
    public void parallelFor(int n, int grain, Range body) {
        if (n <= 0) return;
        grain = Math.max(1, grain);
        // Inside a job (on a helper, or on the caller working its own share, which holds the
        // monitor) the pool's one job slot is taken: reposting would reset the shared counter
        // under the running job, losing and repeating chunks and leaving the outer call waiting.
        if (helpers.length == 0 || n <= grain || isHelper(Thread.currentThread()) || Thread.holdsLock(this)) {
            body.run(0, n);
            return;
        }
        synchronized (this) {
            jobSize = n;
            jobGrain = grain;
            job = body;
            next.set(0);
            running.set(helpers.length);
            generation++;
            // Unparking a spinning helper only leaves it a permit; its loop re-checks the generation.
            for (Thread h : helpers) LockSupport.unpark(h);
            work();
            while (running.get() != 0) Thread.onSpinWait();
            job = null;
            Throwable t = failure.getAndSet(null);
            if (t instanceof RuntimeException re) throw re;
            if (t instanceof Error e) throw e;
            if (t != null) throw new RuntimeException(t);
        }
    }

    /**
     * Below this much work a call runs on the calling thread alone. The unit is one multiply-add
     * with a weight streamed from memory (a matvec's weight element, float32, bf16 or int8 alike);
     * other kernels convert to it. A hand-off to the other threads costs the post, the helpers'
     * first reads of an input the caller has just written, and the caller's reads of what they
     * wrote. Measured on this project's 2-core AVX-512 VM, isolated batch-1 matvecs break even at
     * about 100K (1 x 512 x 128: 5.5 us on one thread, 7.3 on two; 1 x 512 x 256: 10.1 and 9.0;
     * 1 x 768 x 768: 41 and 20). Inside decode steps the break-even is blurred by run-to-run noise:
     * the micro model's 1 x 1024 x 128 up-projection ran no faster on two threads, and
     * Transformer-s LowRank-32% decoded 93-103 tokens/s with this threshold and 92-100 with twice
     * it. {@code -Dsffn.serialWork} overrides it.
     */
    public static final long SERIAL_WORK = serialWork();

    private static long serialWork() {
        String prop = System.getProperty("sffn.serialWork");
        if (prop == null || prop.isBlank()) return 96 * 1024;
        try {
            long w = Long.parseLong(prop.trim());
            if (w >= 0) return w;
        } catch (NumberFormatException ignored) {
            // fall through to the error below
        }
        throw new IllegalArgumentException("-Dsffn.serialWork=" + prop + " is not a non-negative integer (multiply-adds)");
    }

    /**
     * {@link #parallelFor(int, int, Range)}, on the calling thread alone when {@code work} (in
     * multiply-adds, see {@link #SERIAL_WORK}) is too little to pay for the hand-off.
     */
    public void parallelFor(int n, int grain, long work, Range body) {
        if (work < SERIAL_WORK) {
            if (n > 0) body.run(0, n);
            return;
        }
        parallelFor(n, grain, body);
    }

    /**
     * {@link #parallelFor(int, int, long, Range)} in one contiguous run of {@code [0, n)} per
     * thread: for streaming kernels (decoding's matvecs), where a thread that reads its run in
     * order keeps the memory system's streams intact, and pieces handed out in turn interleave
     * the threads' reads (on this project's 2-core VM, two streams close together in memory
     * read at a fraction of the speed of one).
     */
    public void parallelRuns(int n, long work, Range body) {
        parallelFor(n, (n + threads() - 1) / threads(), work, body);
    }

    /** {@link #parallelFor(int, Range)}, on the calling thread alone below {@link #SERIAL_WORK}. */
    public void parallelFor(int n, long work, Range body) {
        parallelFor(n, defaultGrain(n), work, body);
    }

    /** Runs {@code body} over {@code [0, n)} in about four chunks per thread. */
    public void parallelFor(int n, Range body) {
        parallelFor(n, defaultGrain(n), body);
    }

    private int defaultGrain(int n) {
        int chunks = threads() * 4;
        return Math.max(1, (n + chunks - 1) / chunks);
    }

    private boolean isHelper(Thread t) {
        for (Thread h : helpers) if (h == t) return true;
        return false;
    }

    private void work() {
        Range body = job;
        int n = jobSize;
        int grain = jobGrain;
        try {
            for (int from = next.getAndAdd(grain); from < n; from = next.getAndAdd(grain)) {
                body.run(from, Math.min(n, from + grain));
            }
        } catch (Throwable t) {
            failure.compareAndSet(null, t);
            next.set(n);
        }
    }

    private void loop() {
        long seen = 0;
        while (true) {
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while (generation == seen) {
                if (System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
            }
            seen = generation;
            work();
            running.decrementAndGet();
        }
    }
}
