package sffn.kernels.backend;

import java.lang.reflect.InvocationTargetException;
import java.util.List;

/**
 * Creates backends by name. The TornadoVM backend is loaded reflectively, so the CPU path never
 * loads a TornadoVM class and runs without TornadoVM installed.
 */
public final class Backends {
    private static final String TORNADO_BACKEND = "sffn.kernels.tornado.TornadoBackend";
    /** Set by the TornadoVM SDK's argfile; absent when the JVM was not started under TornadoVM. */
    private static final String TORNADO_RUNTIME_PROPERTY = "tornado.load.runtime.implementation";

    /** What users are told when they ask for TornadoVM outside of it. */
    public static final String HOW_TO_RUN_UNDER_TORNADO = "run under it with scripts/sffn-tornado (needs TORNADOVM_HOME"
            + " pointing at a TornadoVM SDK); see README \"GPUs with TornadoVM\"";

    /** A TornadoVM device as {@code sffn devices} lists it; {@code id} is what {@code --device} takes. */
    public record DeviceInfo(String id, String name, String description, String backend, String platform, String type,
                             long globalMemoryBytes, long maxAllocationBytes) {
    }

    private Backends() {
    }

    /**
     * A backend from a spec: {@code cpu}, {@code tornado} (TornadoVM's default device) or
     * {@code tornado:<backend>:<device>} (e.g. {@code tornado:0:1}).
     */
    public static Backend create(String spec) {
        String s = spec.trim();
        if (s.equalsIgnoreCase("cpu")) return new CpuBackend();
        if (s.equalsIgnoreCase("tornado")) return create("tornado", null);
        if (s.regionMatches(true, 0, "tornado:", 0, 8)) return create("tornado", s.substring(8));
        throw new IllegalArgumentException("backend '" + spec + "' is not one of cpu, tornado, tornado:<backend>:<device>");
    }

    /**
     * A backend by name ({@code cpu} or {@code tornado}) on a device ({@code <backend>:<device>},
     * TornadoVM only; null for the default).
     */
    public static Backend create(String backend, String device) {
        return create(backend, device, false);
    }

    /** {@link #create(String, String)}, with the time per kind of kernel printed at close when {@code profile} (else as -Dsffn.profile says). */
    public static Backend create(String backend, String device, boolean profile) {
        if (backend.equalsIgnoreCase("cpu")) {
            if (device != null) {
                throw new IllegalArgumentException("--device " + device + " picks a TornadoVM device; the cpu backend has none"
                        + " (use --backend tornado, or drop --device)");
            }
            return new CpuBackend(profile || KernelTimes.requested());
        }
        if (!backend.equalsIgnoreCase("tornado")) {
            throw new IllegalArgumentException("backend '" + backend + "' is not cpu or tornado");
        }
        String why = tornadoUnavailableReason();
        if (why != null) throw new IllegalStateException(why);
        try {
            return (Backend) Class.forName(TORNADO_BACKEND).getMethod("open", String.class, boolean.class).invoke(null, device, profile);
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException r) throw r;
            if (cause instanceof Error err) throw err;
            throw new IllegalStateException("TornadoVM backend failed to start: " + cause, cause);
        } catch (ReflectiveOperationException | LinkageError e) {
            throw new IllegalStateException("TornadoVM is not usable here (" + e + "); " + HOW_TO_RUN_UNDER_TORNADO, e);
        }
    }

    /** Null when TornadoVM runs in this JVM, else a sentence saying it does not and how to run under it. */
    public static String tornadoUnavailableReason() {
        if (System.getProperty(TORNADO_RUNTIME_PROPERTY) == null) {
            return "TornadoVM is not present: " + HOW_TO_RUN_UNDER_TORNADO;
        }
        tornadoDefaults();
        try {
            Object rt = Class.forName("uk.ac.manchester.tornado.api.runtime.TornadoRuntimeProvider")
                    .getMethod("getTornadoRuntime").invoke(null);
            int backends = (Integer) rt.getClass().getMethod("getNumBackends").invoke(rt);
            if (backends == 0) return "TornadoVM is running but reaches no device (no backend was built or found a driver)";
            return null;
        } catch (InvocationTargetException e) {
            return "TornadoVM is present but failed to start: " + e.getCause() + "; " + HOW_TO_RUN_UNDER_TORNADO;
        } catch (ReflectiveOperationException | LinkageError e) {
            return "TornadoVM is not present (" + e + "): " + HOW_TO_RUN_UNDER_TORNADO;
        }
    }

    /**
     * TornadoVM settings this runtime needs, unless the user set them; TornadoVM reads them once,
     * when its classes initialise, so this runs before any TornadoVM class is touched.
     * <ul>
     * <li>{@code tornado.recover.bailout=false}: a task TornadoVM cannot compile must fail, not run
     * as Java on host arrays, which no longer hold the values (they live on the device).</li>
     * <li>{@code tornado.tvm.maxbytecodesize}: the wiring graphs of the TornadoVM backend name
     * every graph of the execution plan, which outgrows TornadoVM's default of 4096 bytes of graph
     * bytecode for all but toy plans.</li>
     * </ul>
     */
    private static void tornadoDefaults() {
        if (System.getProperty("tornado.recover.bailout") == null) System.setProperty("tornado.recover.bailout", "false");
        if (System.getProperty("tornado.tvm.maxbytecodesize") == null) {
            System.setProperty("tornado.tvm.maxbytecodesize", Integer.toString(1 << 18));
        }
    }

    /** The TornadoVM devices; throws {@link IllegalStateException} (with how to run under TornadoVM) when it is absent. */
    @SuppressWarnings("unchecked")
    public static List<DeviceInfo> tornadoDevices() {
        String why = tornadoUnavailableReason();
        if (why != null) throw new IllegalStateException(why);
        try {
            return (List<DeviceInfo>) Class.forName(TORNADO_BACKEND).getMethod("devices").invoke(null);
        } catch (InvocationTargetException e) {
            throw new IllegalStateException("TornadoVM could not list its devices: " + e.getCause(), e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("TornadoVM is not usable here (" + e + "); " + HOW_TO_RUN_UNDER_TORNADO, e);
        }
    }
}
