package sffn.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The pool hands out every index once, passes a body's failure to the caller and keeps working,
 * and runs a parallelFor called from inside a body. Each case runs on the shared pool and on
 * pools of 1, 3 and 4 threads (more threads than this machine may have cores). A hang fails by
 * timeout rather than stalling the build.
 */
class WorkersTest {
    private static final Duration LIMIT = Duration.ofSeconds(20);
    private static final Workers[] POOLS = {Workers.pool(), new Workers(1), new Workers(3), new Workers(4)};

    static Stream<Workers> pools() {
        return Stream.of(POOLS);
    }

    /**
     * Runs parallelFor(n, grain) and checks each index in [0, n) ran exactly once, in non-empty
     * chunks inside the range (a single-threaded or nested call may run it as one chunk).
     */
    private static void assertCoversOnce(Workers pool, int n, int grain) {
        AtomicIntegerArray counts = new AtomicIntegerArray(n);
        ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
        pool.parallelFor(n, grain, (from, to) -> {
            if (from < 0 || to > n || from >= to) {
                problems.add("chunk [" + from + ", " + to + ")");
                return;
            }
            for (int i = from; i < to; i++) counts.incrementAndGet(i);
        });
        String where = pool.threads() + " threads, n=" + n + " grain=" + grain;
        if (!problems.isEmpty()) fail(where + ": bad chunks " + problems);
        for (int i = 0; i < n; i++) {
            if (counts.get(i) != 1) fail(where + ": index " + i + " ran " + counts.get(i) + " times");
        }
    }

    /** parallelRuns: every index once, in at most one contiguous run per thread. */
    @ParameterizedTest
    @MethodSource("pools")
    void runsCoverEveryIndexOnceInAtMostOneRunPerThread(Workers pool) {
        assertTimeoutPreemptively(LIMIT, () -> {
            for (int n : new int[] {0, 1, 2, 3, 7, 100, 3073}) {
                AtomicIntegerArray counts = new AtomicIntegerArray(Math.max(1, n));
                ConcurrentLinkedQueue<String> runs = new ConcurrentLinkedQueue<>();
                pool.parallelRuns(n, Long.MAX_VALUE, (from, to) -> {
                    runs.add(from + ".." + to);
                    for (int i = from; i < to; i++) counts.incrementAndGet(i);
                });
                String where = pool.threads() + " threads, n=" + n;
                for (int i = 0; i < n; i++) {
                    if (counts.get(i) != 1) fail(where + ": index " + i + " ran " + counts.get(i) + " times");
                }
                if (runs.size() > pool.threads()) fail(where + ": " + runs.size() + " runs " + runs);
            }
        });
    }

    @ParameterizedTest
    @MethodSource("pools")
    void everyIndexRunsExactlyOnceForManySizesAndGrains(Workers pool) {
        assertTimeoutPreemptively(LIMIT, () -> {
            int[] sizes = {0, 1, 2, 3, 15, 16, 17, 31, 33, 100, 1000, 4097};
            int[] grains = {-3, 0, 1, 2, 3, 7, 16, 64, 1000, 5000};
            for (int n : sizes) {
                for (int grain : grains) assertCoversOnce(pool, n, grain);
            }
        });
    }

    @ParameterizedTest
    @MethodSource("pools")
    void defaultGrainCoversEveryIndexExactlyOnce(Workers pool) {
        assertTimeoutPreemptively(LIMIT, () -> {
            for (int n : new int[] {0, 1, 5, 17, 129, 10007}) {
                AtomicIntegerArray counts = new AtomicIntegerArray(n);
                pool.parallelFor(n, (from, to) -> {
                    for (int i = from; i < to; i++) counts.incrementAndGet(i);
                });
                for (int i = 0; i < n; i++) {
                    if (counts.get(i) != 1) fail("n=" + n + ": index " + i + " ran " + counts.get(i) + " times");
                }
            }
        });
    }

    /**
     * Below {@link Workers#SERIAL_WORK} the call runs as one chunk on the calling thread; from it
     * on, the chunks are handed out as without a work estimate (on a pool of several threads,
     * a helper takes some: each chunk waits until a second thread has started one).
     */
    @org.junit.jupiter.api.Test
    void littleWorkRunsOnTheCallerAloneAndEnoughWorkIsShared() {
        Workers pool = new Workers(3);
        assertTimeoutPreemptively(LIMIT, () -> {
            Thread caller = Thread.currentThread();
            ConcurrentLinkedQueue<String> chunks = new ConcurrentLinkedQueue<>();
            pool.parallelFor(64, 1, Workers.SERIAL_WORK - 1, (from, to) -> chunks.add(Thread.currentThread() == caller
                    ? "caller [" + from + ", " + to + ")" : "helper [" + from + ", " + to + ")"));
            org.junit.jupiter.api.Assertions.assertEquals(java.util.List.of("caller [0, 64)"), java.util.List.copyOf(chunks));
            chunks.clear();
            pool.parallelFor(64, Workers.SERIAL_WORK - 1, (from, to) -> chunks.add(Thread.currentThread() == caller
                    ? "caller [" + from + ", " + to + ")" : "helper [" + from + ", " + to + ")"));
            org.junit.jupiter.api.Assertions.assertEquals(java.util.List.of("caller [0, 64)"), java.util.List.copyOf(chunks));

            java.util.Set<Thread> ran = java.util.concurrent.ConcurrentHashMap.newKeySet();
            AtomicIntegerArray counts = new AtomicIntegerArray(64);
            pool.parallelFor(64, 1, Workers.SERIAL_WORK, (from, to) -> {
                ran.add(Thread.currentThread());
                long until = System.nanoTime() + 2_000_000_000L;
                while (ran.size() < 2 && System.nanoTime() < until) Thread.onSpinWait();
                for (int i = from; i < to; i++) counts.incrementAndGet(i);
            });
            org.junit.jupiter.api.Assertions.assertTrue(ran.size() >= 2, "enough work ran on " + ran.size() + " thread(s)");
            for (int i = 0; i < 64; i++) org.junit.jupiter.api.Assertions.assertEquals(1, counts.get(i), "index " + i);
        });
    }

    /** Helpers hold their first chunk until the calling thread has thrown, so the failure is the caller's. */
    @ParameterizedTest
    @MethodSource("pools")
    void anExceptionOnTheCallingThreadReachesTheCallerAndThePoolKeepsWorking(Workers pool) {
        assertTimeoutPreemptively(LIMIT, () -> {
            IllegalStateException boom = new IllegalStateException("boom");
            Thread caller = Thread.currentThread();
            AtomicBoolean thrown = new AtomicBoolean();
            IllegalStateException got = assertThrows(IllegalStateException.class, () ->
                    pool.parallelFor(1000, 1, (from, to) -> {
                        if (Thread.currentThread() == caller) {
                            thrown.set(true);
                            throw boom;
                        }
                        while (!thrown.get()) Thread.onSpinWait();
                    }));
            assertSame(boom, got);
            assertCoversOnce(pool, 1000, 3);
        });
    }

    /** The calling thread holds its first chunk until a helper has thrown, so the failure is a helper's. */
    @ParameterizedTest
    @MethodSource("pools")
    void anExceptionOnAHelperThreadReachesTheCallerAndThePoolKeepsWorking(Workers pool) {
        if (pool.threads() == 1) return;
        assertTimeoutPreemptively(LIMIT, () -> {
            IllegalArgumentException boom = new IllegalArgumentException("boom on a helper");
            Thread caller = Thread.currentThread();
            AtomicBoolean thrown = new AtomicBoolean();
            IllegalArgumentException got = assertThrows(IllegalArgumentException.class, () ->
                    pool.parallelFor(64, 1, (from, to) -> {
                        if (Thread.currentThread() != caller) {
                            thrown.set(true);
                            throw boom;
                        }
                        while (!thrown.get()) Thread.onSpinWait();
                    }));
            assertSame(boom, got);
            assertCoversOnce(pool, 4097, 16);
        });
    }

    @ParameterizedTest
    @MethodSource("pools")
    void anErrorIsRethrownAsItselfAndTheSequentialPathThrowsToo(Workers pool) {
        assertTimeoutPreemptively(LIMIT, () -> {
            StackOverflowError err = new StackOverflowError("deep");
            assertSame(err, assertThrows(StackOverflowError.class, () ->
                    pool.parallelFor(500, 1, (from, to) -> {
                        if (from <= 250 && 250 < to) throw err;
                    })));
            assertCoversOnce(pool, 500, 1);

            UnsupportedOperationException small = new UnsupportedOperationException("small job");
            assertSame(small, assertThrows(UnsupportedOperationException.class, () ->
                    pool.parallelFor(3, 10, (from, to) -> {
                        throw small;
                    })));
            assertCoversOnce(pool, 777, 5);
        });
    }

    /**
     * A kernel that calls another parallel kernel from inside its body: the inner call runs on
     * that thread. Helpers hold their first outer chunk until the calling thread has made its
     * nested call, so both the caller and a helper nest.
     */
    @ParameterizedTest
    @MethodSource("pools")
    void nestedParallelForRunsWithoutDeadlockAndCoversEveryIndexOnce(Workers pool) {
        assertTimeoutPreemptively(LIMIT, () -> {
            int outer = 12;
            int inner = 50;
            Thread caller = Thread.currentThread();
            AtomicBoolean callerNested = new AtomicBoolean();
            AtomicIntegerArray counts = new AtomicIntegerArray(outer * inner);
            AtomicIntegerArray outerCounts = new AtomicIntegerArray(outer);
            pool.parallelFor(outer, 1, (from, to) -> {
                boolean onCaller = Thread.currentThread() == caller;
                if (!onCaller) {
                    while (!callerNested.get()) Thread.onSpinWait();
                }
                for (int o = from; o < to; o++) {
                    outerCounts.incrementAndGet(o);
                    int base = o * inner;
                    pool.parallelFor(inner, 1, (f, t) -> {
                        for (int i = f; i < t; i++) counts.incrementAndGet(base + i);
                    });
                }
                if (onCaller) callerNested.set(true);
            });
            for (int o = 0; o < outer; o++) {
                if (outerCounts.get(o) != 1) fail("outer index " + o + " ran " + outerCounts.get(o) + " times");
            }
            for (int i = 0; i < outer * inner; i++) {
                if (counts.get(i) != 1) fail("inner index " + i % inner + " of outer " + i / inner + " ran "
                        + counts.get(i) + " times");
            }
            assertCoversOnce(pool, 1000, 7);
        });
    }
}
