package sffn.nn.tokenizer;

import java.util.Arrays;

/** A growable list of ints, for token ids collected while encoding. */
final class IntList {
    private int[] a;
    private int n;

    IntList(int capacity) {
        a = new int[Math.max(4, capacity)];
    }

    int size() {
        return n;
    }

    int last() {
        return a[n - 1];
    }

    void add(int v) {
        if (n == a.length) {
            a = Arrays.copyOf(a, 2 * n);
        }
        a[n++] = v;
    }

    void addAll(int[] vs) {
        if (n + vs.length > a.length) {
            a = Arrays.copyOf(a, Math.max(2 * a.length, n + vs.length));
        }
        System.arraycopy(vs, 0, a, n, vs.length);
        n += vs.length;
    }

    /** Replaces each run of {@code value} at or after {@code from} by one {@code value}. */
    void fuseRepeats(int from, int value) {
        int w = from;
        for (int r = from; r < n; r++) {
            if (!(a[r] == value && w > from && a[w - 1] == value)) {
                a[w++] = a[r];
            }
        }
        n = w;
    }

    int[] toArray() {
        return Arrays.copyOf(a, n);
    }
}
