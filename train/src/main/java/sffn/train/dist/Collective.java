package sffn.train.dist;

import java.lang.foreign.MemorySegment;

/**
 * The communication a data-parallel run needs, over all ranks of one job. Float buffers are
 * off-heap segments of {@code float}s (a native library may read them while Java runs on);
 * counts and offsets are in floats. Every rank must make the same calls in the same order, as in
 * MPI. A second engine (NCCL, say) implements this interface; nothing else in the trainer knows
 * which one runs.
 */
public interface Collective extends AutoCloseable {

    /** This process's rank, {@code 0 <= rank < size}. */
    int rank();

    /** Number of ranks in the job. */
    int size();

    /** Where the ranks run: {@code single process}, {@code Open MPI 4.1.4, 2 ranks}, ... */
    String describe();

    /** Sums {@code count} floats from {@code offset} of {@code buf} over all ranks, in place. */
    void allReduceSum(MemorySegment buf, long offset, int count);

    /** As {@link #allReduceSum} but returns at once; the buffer must not be touched until the request completes. */
    Request allReduceSumAsync(MemorySegment buf, long offset, int count);

    /**
     * Sums {@code buf} over all ranks and leaves rank r's part, the {@code counts[r]} floats from
     * offset {@code sum(counts[0..r))}, in that same place of {@code buf} (other parts undefined).
     */
    void reduceScatterSum(MemorySegment buf, int[] counts);

    /** Rank r's {@code counts[r]} floats at offset {@code sum(counts[0..r))} of {@code buf} are copied to every rank. */
    void allGather(MemorySegment buf, int[] counts);

    /** Copies {@code bytes} bytes of {@code buf} from {@code root} to every rank. */
    void broadcast(MemorySegment buf, long bytes, int root);

    /** Returns when every rank has called it. */
    void barrier();

    /** Sums one double over all ranks (the loss sums; bit-identical on every rank). */
    double allReduceSum(double value);

    /** Every rank's {@code value}, indexed by rank. */
    long[] allGather(long value);

    /** Ends the whole job with {@code code} now, on every rank: for a rank that cannot go on. */
    void abort(int code);

    @Override
    void close();

    /** A non-blocking operation in flight. */
    interface Request {
        /** Whether it has completed; also drives the transfer on engines that progress only inside calls. */
        boolean test();

        /** Blocks until it has completed. */
        void await();
    }

    /** Whether this process was started by an MPI launcher ({@code mpirun}, {@code srun} with PMI/PMIx). */
    static boolean launchedByMpi() {
        for (String v : new String[] {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"}) {
            if (System.getenv(v) != null) return true;
        }
        return false;
    }

    /**
     * MPI when this process was started by an MPI launcher, else the single process: a plain run
     * never loads libmpi.
     */
    static Collective fromEnvironment() {
        return launchedByMpi() ? MpiCollective.open() : new SingleProcess();
    }
}
