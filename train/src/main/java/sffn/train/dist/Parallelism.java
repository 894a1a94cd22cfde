package sffn.train.dist;

/**
 * How a run spreads over ranks.
 *
 * @param comm               the ranks and their communication
 * @param zeroStage          0: every rank keeps the whole optimizer state; 1: ZeRO-1, each rank its shard
 * @param checkReplicasEvery compare a hash of the weights across ranks every this many steps (0: never)
 * @param bucketBytes        all-reduce bucket size (plain data parallelism)
 */
public record Parallelism(Collective comm, int zeroStage, int checkReplicasEvery, long bucketBytes) {
    /** PyTorch DDP uses 25 MB; smaller buckets start communicating earlier in backward on small models. */
    public static final long DEFAULT_BUCKET_BYTES = 4L << 20;

    public Parallelism {
        if (zeroStage != 0 && zeroStage != 1) {
            throw new IllegalArgumentException("--zero " + zeroStage + ": only 0 (plain data parallelism) and 1 (ZeRO-1) exist");
        }
        if (checkReplicasEvery < 0) throw new IllegalArgumentException("--check-replicas must not be negative: " + checkReplicasEvery);
        if (bucketBytes < Float.BYTES) throw new IllegalArgumentException("all-reduce bucket of " + bucketBytes + " bytes is too small");
    }

    /** One process, nothing to exchange. */
    public static Parallelism single() {
        return new Parallelism(new SingleProcess(), 0, 0, DEFAULT_BUCKET_BYTES);
    }

    public boolean distributed() {
        return comm.size() > 1;
    }
}
