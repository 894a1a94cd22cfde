package sffn.train.dist;

import java.lang.foreign.MemorySegment;

/** One rank: every collective is the identity. What a run without {@code mpirun} uses. */
public final class SingleProcess implements Collective {
    private static final Request DONE = new Request() {
        public boolean test() {
            return true;
        }

        public void await() {
        }
    };

    @Override
    public int rank() {
        return 0;
    }

    @Override
    public int size() {
        return 1;
    }

    @Override
    public String describe() {
        return "single process";
    }

    @Override
    public void allReduceSum(MemorySegment buf, long offset, int count) {
    }

    @Override
    public Request allReduceSumAsync(MemorySegment buf, long offset, int count) {
        return DONE;
    }

    @Override
    public void reduceScatterSum(MemorySegment buf, int[] counts) {
    }

    @Override
    public void allGather(MemorySegment buf, int[] counts) {
    }

    @Override
    public void broadcast(MemorySegment buf, long bytes, int root) {
    }

    @Override
    public void barrier() {
    }

    @Override
    public double allReduceSum(double value) {
        return value;
    }

    @Override
    public long[] allGather(long value) {
        return new long[] {value};
    }

    @Override
    public void abort(int code) {
        System.exit(code);
    }

    @Override
    public void close() {
    }
}
