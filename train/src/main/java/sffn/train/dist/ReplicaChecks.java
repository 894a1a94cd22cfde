package sffn.train.dist;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import sffn.nn.Parameter;

/**
 * Checks that the ranks agree: on the configuration they were started with, and on the weights
 * they hold (data parallelism keeps every replica bit-identical; a difference means a bug, a
 * faulty node or a non-deterministic reduction, and training on would silently fork the model).
 */
public final class ReplicaChecks {
    private ReplicaChecks() {
    }

    /** The ranks disagree; training must stop. */
    public static final class ReplicaMismatch extends IllegalStateException {
        public ReplicaMismatch(String message) {
            super(message);
        }
    }

    /**
     * Compares every rank's resolved configuration (model, method, training options, ranks) with
     * rank 0's.
     *
     * @throws ReplicaMismatch on every rank when any rank differs
     */
    public static void sameConfig(Collective comm, String resolved) {
        long[] all = comm.allGather(fnv(resolved.getBytes(StandardCharsets.UTF_8)));
        List<Integer> odd = differing(all);
        if (odd.isEmpty()) return;
        if (all[comm.rank()] != all[0]) {
            throw new ReplicaMismatch("rank " + comm.rank() + " was started with a different configuration than rank 0"
                    + " (hash " + hex(all[comm.rank()]) + " against " + hex(all[0]) + "); every rank must get the same"
                    + " options, config files and data. This rank's: " + resolved);
        }
        throw new ReplicaMismatch("rank(s) " + odd + " were started with a different configuration than rank 0; every rank"
                + " must get the same options, config files and data. Rank 0's: " + resolved);
    }

    /**
     * Compares a hash of the weights across ranks after {@code step}.
     *
     * @throws ReplicaMismatch on every rank when any replica differs from rank 0's
     */
    public static void sameWeights(Collective comm, List<Parameter> params, int step) {
        long h = 0xcbf29ce484222325L;
        for (Parameter p : params) {
            for (float v : p.value.data) h = (h ^ Float.floatToRawIntBits(v)) * 0x100000001b3L;
        }
        long[] all = comm.allGather(h);
        List<Integer> odd = differing(all);
        if (odd.isEmpty()) return;
        throw new ReplicaMismatch(String.format(Locale.ROOT, "replicas diverged after step %d: the weights of rank(s) %s"
                        + " differ from rank 0's (weight hashes by rank: %s). Every rank should hold bit-identical weights;"
                        + " stopping", step, odd,
                hexAll(all)));
    }

    static long fnv(byte[] bytes) {
        long h = 0xcbf29ce484222325L;
        for (byte b : bytes) h = (h ^ (b & 0xff)) * 0x100000001b3L;
        return h;
    }

    private static List<Integer> differing(long[] all) {
        List<Integer> odd = new ArrayList<>();
        for (int r = 1; r < all.length; r++) if (all[r] != all[0]) odd.add(r);
        return odd;
    }

    private static String hex(long h) {
        return String.format(Locale.ROOT, "%016x", h);
    }

    private static String hexAll(long[] all) {
        List<String> s = new ArrayList<>();
        for (long h : all) s.add(hex(h));
        return s.toString();
    }
}
