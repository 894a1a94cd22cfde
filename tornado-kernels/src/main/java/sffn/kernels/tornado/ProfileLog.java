package sffn.kernels.tornado;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import sffn.kernels.backend.KernelTimes;

/**
 * Reads TornadoVM's profiler log (a graph's JSON object per execution, appended as it runs, with
 * {@code ProfilerMode.SILENT}): each task's {@code TASK_KERNEL_TIME} (nanoseconds, from the
 * device's events) is added to the kind of kernel its name carries, {@code t<n>_<kind>} as
 * {@link TaskMapper} names tasks; the graph's copies in and out count as {@code copy to device}
 * and {@code copy to host}. Plain text here, so that the CPU build reads it without TornadoVM.
 */
final class ProfileLog {
    /** A task's entry: {@code "graph.task": { flat fields }}. */
    private static final Pattern TASK = Pattern.compile("\"([^\"]+)\"\\s*:\\s*\\{([^{}]*)\\}");
    private static final Pattern KERNEL_TIME = Pattern.compile("\"TASK_KERNEL_TIME\"\\s*:\\s*\"(\\d+)\"");
    private static final Pattern COPY_IN = Pattern.compile("\"COPY_IN_TIME\"\\s*:\\s*\"(\\d+)\"");
    private static final Pattern COPY_OUT = Pattern.compile("\"COPY_OUT_TIME\"\\s*:\\s*\"(\\d+)\"");
    private static final Pattern NUMBERED = Pattern.compile("t\\d+_(.+)");

    private ProfileLog() {
    }

    /** Adds every task and copy of {@code log} (whole JSON objects, as TornadoVM appends them) to {@code times}. */
    static void read(CharSequence log, KernelTimes times) {
        Matcher task = TASK.matcher(log);
        StringBuilder graphLevel = new StringBuilder();
        int from = 0;
        while (task.find()) {
            graphLevel.append(log, from, task.start());
            from = task.end();
            Matcher time = KERNEL_TIME.matcher(task.group(2));
            if (time.find()) times.add(kind(task.group(1)), Long.parseLong(time.group(1)), 1);
        }
        graphLevel.append(log, from, log.length());
        for (Matcher copy = COPY_IN.matcher(graphLevel); copy.find(); ) times.add("copy to device", Long.parseLong(copy.group(1)), 1);
        for (Matcher copy = COPY_OUT.matcher(graphLevel); copy.find(); ) times.add("copy to host", Long.parseLong(copy.group(1)), 1);
    }

    /** {@code graph.t12_matmul_fwd} -> {@code matmul_fwd}; {@code graph.touch3} -> {@code touch}. */
    static String kind(String taskId) {
        String task = taskId.substring(taskId.lastIndexOf('.') + 1);
        Matcher m = NUMBERED.matcher(task);
        if (m.matches()) return m.group(1);
        return task.replaceAll("\\d+$", "");
    }
}
