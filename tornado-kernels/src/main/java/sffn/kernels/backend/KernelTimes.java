package sffn.kernels.backend;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Time and launches per kind of kernel, for {@code --profile} (-Dsffn.profile=true): the CPU
 * backend counts wall time per kind of call, a TornadoVM device its kernels' event times.
 */
public final class KernelTimes {
    /** The system property that turns profiling on in every backend. */
    public static final String PROPERTY = "sffn.profile";

    private final Map<String, long[]> times = new TreeMap<>();

    /** Whether profiling was asked for ({@value #PROPERTY}). */
    public static boolean requested() {
        return Boolean.getBoolean(PROPERTY);
    }

    public synchronized void add(String kind, long nanos, long launches) {
        long[] t = times.computeIfAbsent(kind, k -> new long[2]);
        t[0] += nanos;
        t[1] += launches;
    }

    public synchronized boolean isEmpty() {
        return times.isEmpty();
    }

    public synchronized long totalNanos() {
        long total = 0;
        for (long[] t : times.values()) total += t[0];
        return total;
    }

    public synchronized long totalLaunches() {
        long total = 0;
        for (long[] t : times.values()) total += t[1];
        return total;
    }

    /** One line per kind, largest time first: time, share of the total, launches. */
    public synchronized String table() {
        long all = Math.max(1, totalNanos());
        StringBuilder sb = new StringBuilder();
        times.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue()[0], a.getValue()[0])).forEach(e ->
                sb.append(String.format(Locale.ROOT, "%-28s %9.1f ms %5.1f%% %8d calls%n", e.getKey(), e.getValue()[0] / 1e6,
                        100.0 * e.getValue()[0] / all, e.getValue()[1])));
        return sb.toString();
    }
}
