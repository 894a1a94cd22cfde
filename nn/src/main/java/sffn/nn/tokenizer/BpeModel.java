package sffn.nn.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The BPE model of a Hugging Face {@code tokenizer.json}: a vocabulary and ranked merges, applied to
 * one pre-tokenized word at a time as the {@code tokenizers} library does. A word starts as one
 * symbol per character (a Unicode code point); a character missing from the vocabulary becomes its
 * UTF-8 bytes as {@code <0xNN>} tokens ({@code byte_fallback}), or the unknown token. Then, until no
 * adjacent pair has a merge, the pair with the lowest rank is merged, the leftmost one among equals.
 *
 * <p>Two speed-ups leave the tokens unchanged: a word is first cut where no merge can join the
 * characters on either side (a merge of {@code a} and {@code b} only ever joins the last character
 * of {@code a} to the first of {@code b}, so a pair of adjacent characters that no merge joins is a
 * boundary no merge crosses), and the pieces' tokens are cached. Thread-safe.
 */
final class BpeModel {
    private static final int CACHE_LIMIT = 1 << 18;
    private static final int CACHE_MAX_WORD = 64;

    private final Map<String, Integer> vocab;
    private final int unk;
    private final boolean fuseUnk;
    /** {@code byteIds[b]} is the id of {@code <0xNN>} for byte b, or -1; null without byte fallback. */
    private final int[] byteIds;
    /** Merge table, open addressing: key {@code (left << 32) | right}, value the rank. */
    private final long[] mergeKeys;
    private final int[] mergeRanks;
    private final int[] mergeResults;
    /** Pairs of code points that some merge joins, {@code (last of left << 32) | first of right}, open addressing. */
    private final long[] joinable;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    /**
     * @param vocab       token string to id
     * @param merges      merges in rank order, each the pair of token strings it joins
     * @param unk         the unknown token's id, -1 for none
     * @param byteFallback whether characters outside the vocabulary become {@code <0xNN>} tokens
     * @throws IllegalArgumentException when a merge names a token, or makes one, that is not in the vocabulary
     */
    BpeModel(Map<String, Integer> vocab, String[][] merges, int unk, boolean fuseUnk, boolean byteFallback) {
        this.vocab = Map.copyOf(vocab);
        this.unk = unk;
        this.fuseUnk = fuseUnk;
        if (byteFallback) {
            byteIds = new int[256];
            for (int b = 0; b < 256; b++) {
                byteIds[b] = vocab.getOrDefault(String.format("<0x%02X>", b), -1);
            }
        } else {
            byteIds = null;
        }
        int cap = Integer.highestOneBit(Math.max(4, merges.length) * 2) * 2;
        mergeKeys = new long[cap];
        Arrays.fill(mergeKeys, -1L);
        mergeRanks = new int[cap];
        mergeResults = new int[merges.length];
        long[] joins = new long[cap];
        Arrays.fill(joins, -1L);
        for (int rank = 0; rank < merges.length; rank++) {
            String a = merges[rank][0];
            String b = merges[rank][1];
            Integer ia = vocab.get(a);
            Integer ib = vocab.get(b);
            Integer ir = vocab.get(a + b);
            if (ia == null || ib == null || ir == null) {
                throw new IllegalArgumentException("merge " + (rank + 1) + " ('" + a + "' '" + b + "') names a token that is"
                        + " not in the vocabulary: '" + (ia == null ? a : ib == null ? b : a + b) + "'");
            }
            // as in the tokenizers library, a merge listed twice keeps its last rank
            put(mergeKeys, mergeRanks, pair(ia, ib), rank);
            mergeResults[rank] = ir;
            put(joins, null, pair(a.codePointBefore(a.length()), b.codePointAt(0)), 0);
        }
        joinable = joins;
    }

    /** Whether some merge joins a token ending in code point {@code left} to one starting with {@code right}. */
    boolean joins(int left, int right) {
        return find(joinable, pair(left, right)) >= 0;
    }

    /** Appends the tokens of one pre-tokenized word (already normalized) to {@code out}. */
    void encodeWord(String word, IntList out) {
        int n = word.length();
        int start = 0;
        int prevCp = -1;
        int from = out.size();
        for (int i = 0; i < n; ) {
            int cp = word.codePointAt(i);
            if (prevCp >= 0 && find(joinable, pair(prevCp, cp)) < 0) {
                piece(word.substring(start, i), out);
                start = i;
            }
            prevCp = cp;
            i += Character.charCount(cp);
        }
        piece(word.substring(start), out);
        if (fuseUnk && unk >= 0) {
            out.fuseRepeats(from, unk);
        }
    }

    private void piece(String piece, IntList out) {
        int[] cached = cache.get(piece);
        if (cached == null) {
            cached = merge(piece);
            if (piece.length() <= CACHE_MAX_WORD && cache.size() < CACHE_LIMIT) {
                cache.put(piece, cached);
            }
        }
        out.addAll(cached);
    }

    private int[] merge(String piece) {
        IntList ids = new IntList(piece.length() + 4);
        for (int i = 0; i < piece.length(); ) {
            int cp = piece.codePointAt(i);
            int len = Character.charCount(cp);
            Integer id = vocab.get(piece.substring(i, i + len));
            if (id != null) {
                ids.add(id);
            } else if (!addBytes(piece.substring(i, i + len), ids)) {
                if (unk < 0) {
                    throw new IllegalArgumentException("character U+" + Integer.toHexString(cp).toUpperCase()
                            + " is not in the tokenizer's vocabulary, which has neither byte fallback nor an unknown token");
                }
                if (!(fuseUnk && ids.size() > 0 && ids.last() == unk)) {
                    ids.add(unk);
                }
            }
            i += len;
        }
        int n = ids.size();
        int[] id = ids.toArray();
        int[] next = new int[n];
        int[] prev = new int[n];
        boolean[] gone = new boolean[n];
        LongHeap heap = new LongHeap(n);
        for (int i = 0; i < n; i++) {
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
            if (i + 1 < n) {
                push(heap, id[i], id[i + 1], i);
            }
        }
        // lowest rank first, then leftmost (the heap key is rank << 32 | position)
        while (!heap.isEmpty()) {
            long top = heap.pop();
            int rank = (int) (top >>> 32);
            int i = (int) top;
            int j = next[i];
            if (gone[i] || j < 0 || rankOf(id[i], id[j]) != rank) {
                continue;
            }
            id[i] = mergeResults[rank];
            gone[j] = true;
            next[i] = next[j];
            if (next[j] >= 0) {
                prev[next[j]] = i;
            }
            if (prev[i] >= 0) {
                push(heap, id[prev[i]], id[i], prev[i]);
            }
            if (next[i] >= 0) {
                push(heap, id[i], id[next[i]], i);
            }
        }
        IntList result = new IntList(n);
        for (int i = 0; i < n; i++) {
            if (!gone[i]) {
                result.add(id[i]);
            }
        }
        return result.toArray();
    }

    private boolean addBytes(String ch, IntList ids) {
        if (byteIds == null) {
            return false;
        }
        byte[] utf8 = ch.getBytes(StandardCharsets.UTF_8);
        for (byte b : utf8) {
            if (byteIds[b & 0xFF] < 0) {
                return false;
            }
        }
        for (byte b : utf8) {
            ids.add(byteIds[b & 0xFF]);
        }
        return true;
    }

    private void push(LongHeap heap, int left, int right, int pos) {
        int rank = rankOf(left, right);
        if (rank >= 0) {
            heap.push(((long) rank << 32) | pos);
        }
    }

    private int rankOf(int left, int right) {
        int slot = find(mergeKeys, pair(left, right));
        return slot < 0 ? -1 : mergeRanks[slot];
    }

    private static long pair(int a, int b) {
        return ((long) a << 32) | (b & 0xFFFFFFFFL);
    }

    private static int slotOf(long key, int mask) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 33) & mask;
    }

    private static int find(long[] keys, long key) {
        int mask = keys.length - 1;
        for (int s = slotOf(key, mask); ; s = (s + 1) & mask) {
            if (keys[s] == key) {
                return s;
            }
            if (keys[s] == -1L) {
                return -1;
            }
        }
    }

    private static void put(long[] keys, int[] values, long key, int value) {
        int mask = keys.length - 1;
        int s = slotOf(key, mask);
        while (keys[s] != -1L && keys[s] != key) {
            s = (s + 1) & mask;
        }
        keys[s] = key;
        if (values != null) {
            values[s] = value;
        }
    }

    /** A binary min-heap of longs. */
    private static final class LongHeap {
        private long[] a;
        private int n;

        LongHeap(int capacity) {
            a = new long[Math.max(4, capacity)];
        }

        boolean isEmpty() {
            return n == 0;
        }

        void push(long v) {
            if (n == a.length) {
                a = Arrays.copyOf(a, 2 * n);
            }
            int i = n++;
            while (i > 0) {
                int p = (i - 1) >>> 1;
                if (a[p] <= v) {
                    break;
                }
                a[i] = a[p];
                i = p;
            }
            a[i] = v;
        }

        long pop() {
            long top = a[0];
            long v = a[--n];
            int i = 0;
            while (true) {
                int c = 2 * i + 1;
                if (c >= n) {
                    break;
                }
                if (c + 1 < n && a[c + 1] < a[c]) {
                    c++;
                }
                if (v <= a[c]) {
                    break;
                }
                a[i] = a[c];
                i = c;
            }
            a[i] = v;
            return top;
        }
    }
}
