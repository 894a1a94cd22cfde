package sffn.train.data;

/**
 * The order in which training windows are served in one epoch: a permutation drawn from
 * (seed, epoch) alone by a Fisher-Yates shuffle over SplitMix64. The generator is written out here,
 * not borrowed from {@code java.util}, so the order stays the same on every JDK and a run resumes
 * anywhere with the windows it would have seen.
 */
public final class WindowOrder {
    private static final long GOLDEN = 0x9E3779B97F4A7C15L;

    private WindowOrder() {
    }

    /** A permutation of {@code 0 .. n-1} determined by {@code seed} and {@code epoch}. */
    public static int[] shuffled(int n, long seed, long epoch) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        long[] state = {mix(mix(seed) ^ mix(epoch + GOLDEN))};
        for (int i = n - 1; i > 0; i--) {
            int j = bounded(state, i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return order;
    }

    /** SplitMix64's output function (Steele, Lea and Flood 2014). */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private static long next(long[] state) {
        state[0] += GOLDEN;
        return mix(state[0]);
    }

    /** Uniform in {@code [0, bound)}: Lemire's multiply-and-reject on 32 random bits, unbiased. */
    private static int bounded(long[] state, int bound) {
        long m = (next(state) >>> 32) * bound;
        long low = m & 0xFFFFFFFFL;
        if (low < bound) {
            long threshold = (0x100000000L - bound) % bound;
            while (low < threshold) {
                m = (next(state) >>> 32) * bound;
                low = m & 0xFFFFFFFFL;
            }
        }
        return (int) (m >>> 32);
    }
}
