package sffn.kernels.tornado;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import sffn.kernels.backend.Backend;
import sffn.kernels.backend.Backends;
import sffn.kernels.backend.KernelTimes;
import sffn.kernels.plan.Plan;
import uk.ac.manchester.tornado.api.TornadoRuntime;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.runtime.TornadoRuntimeProvider;

/**
 * Runs plans on a TornadoVM device (OpenCL, PTX or SPIR-V) as task graphs of the portable kernel
 * bodies, with KernelContext variants for matmuls and row reductions where {@code tuned}.
 *
 * <p>Every array of every prepared plan lives on the device for the backend's life, in one buffer
 * that all plans share (see {@link Residency}): parameters, gradients and optimizer state are
 * uploaded once, host inputs every run, and nothing comes back unless asked with
 * {@link #toHost}. The graphs are built and compiled together, once for the set of prepared
 * plans, at the first run after {@link #prepare}/{@link #release}; prepare every plan before
 * running any to compile once. Changing the set of plans brings the device's values to the host
 * first, so nothing is lost when the plans are rebuilt.
 *
 * <p>Load it through {@link Backends#create}: the CPU path never loads TornadoVM classes.
 */
public final class TornadoBackend implements Backend {
    /** System property; {@code false} runs every call on its loop-parallel portable body (no KernelContext variants). */
    public static final String TUNED_PROPERTY = "sffn.tornado.tuned";
    /** System property; {@code true} prints the tasks (kernel launches) of each plan when the plans are compiled. */
    public static final String TASKS_PROPERTY = "sffn.tornado.tasks";
    /** System property; {@code true} lets cuBLAS multiply in TF32 on tensor cores ({@code --tf32}). */
    public static final String TF32_PROPERTY = "sffn.tornado.tf32";

    private final TornadoDevice device;
    private final String deviceId;
    private final boolean tuned;
    private final MatmulVariant matmul;
    private final List<Plan> plans = new ArrayList<>();
    /** Arrays the host rewrote (toDevice) that the device has not received yet. */
    private final Map<Object, Boolean> hostNewer = new IdentityHashMap<>();
    private Residency residency;
    /** With --profile (-Dsffn.profile=true): device time per kind of kernel, from TornadoVM's profiler. */
    private KernelTimes profile = KernelTimes.requested() ? new KernelTimes() : null;
    private String tasksPerPlan;

    /**
     * @param deviceId {@code backend:device} indices as {@code sffn devices} lists them, or null for
     *                 TornadoVM's default; KernelContext variants on unless {@value #TUNED_PROPERTY} is false
     */
    public TornadoBackend(String deviceId) {
        this(deviceId, !"false".equalsIgnoreCase(System.getProperty(TUNED_PROPERTY, "true")));
    }

    /**
     * @param tuned whether matmuls and row reductions run their KernelContext variants; the matmul
     *              family's variant comes from {@value MatmulVariant#PROPERTY}, else the tile shape
     *              {@link TileChoice} picks for the device
     */
    public TornadoBackend(String deviceId, boolean tuned) {
        this(deviceId, tuned, null);
    }

    /** @param matmul the matmul family's body (null: as {@link #TornadoBackend(String, boolean)} picks it) */
    /** {@link #TornadoBackend(String)}, profiling as {@code --profile} asks (Backends.create calls it). */
    public static TornadoBackend open(String deviceId, boolean profile) {
        TornadoBackend b = new TornadoBackend(deviceId);
        if (profile && b.profile == null) b.profile = new KernelTimes();
        return b;
    }

    public TornadoBackend(String deviceId, boolean tuned, MatmulVariant matmul) {
        String why = Backends.tornadoUnavailableReason();
        if (why != null) throw new IllegalStateException(why);
        TornadoRuntime rt = TornadoRuntimeProvider.getTornadoRuntime();
        if (deviceId == null) {
            this.device = rt.getDefaultDevice();
            this.deviceId = device.getBackendIndex() + ":" + indexOf(rt, device);
        } else {
            int[] bd = parse(deviceId);
            if (bd[0] >= rt.getNumBackends()) {
                throw new IllegalArgumentException("device " + deviceId + ": TornadoVM has " + rt.getNumBackends()
                        + " backend(s), numbered from 0; 'sffn devices' lists them");
            }
            var backend = rt.getBackend(bd[0]);
            if (bd[1] >= backend.getNumDevices()) {
                throw new IllegalArgumentException("device " + deviceId + ": backend " + bd[0] + " (" + backend.getName()
                        + ") has " + backend.getNumDevices() + " device(s), numbered from 0; 'sffn devices' lists them");
            }
            this.device = backend.getDevice(bd[1]);
            this.deviceId = deviceId;
        }
        this.tuned = tuned;
        if (!tuned) {
            this.matmul = MatmulVariant.LOOP;
        } else if (matmul != null) {
            if (matmul.isCublas()) requireCublas(device, this.deviceId, matmul.kind());
            this.matmul = matmul;
        } else {
            this.matmul = chooseMatmul(device, this.deviceId);
        }
    }

    /**
     * The matmul family's body from {@value MatmulVariant#PROPERTY} (default {@code auto}) and
     * {@value #TF32_PROPERTY}: cuBLAS where asked for, or with {@code auto} where the device offers it;
     * else the register-tiled kernels at the tuned or table shape, or the named JIT variant.
     */
    private static MatmulVariant chooseMatmul(TornadoDevice device, String deviceId) {
        String prop = System.getProperty(MatmulVariant.PROPERTY, MatmulVariant.AUTO);
        boolean tf32 = Boolean.parseBoolean(System.getProperty(TF32_PROPERTY, "false"));
        MatmulVariant v = MatmulVariant.parseOrNull(prop);
        if (v == null && MatmulVariant.isAuto(prop) && CublasTasks.unavailableReason(device) == null) {
            v = MatmulVariant.CUBLAS;
        }
        if (v != null && v.isCublas()) {
            requireCublas(device, deviceId, v.kind());
            return tf32 || v.tf32() ? MatmulVariant.CUBLAS_TF32 : MatmulVariant.CUBLAS;
        }
        if (tf32 && !MatmulVariant.isAuto(prop)) {
            throw new IllegalArgumentException("--tf32 allows TF32 math in cuBLAS, but the matmuls run sffn's own kernels"
                    + " here (" + prop + "); use --matmul cublas or auto, or drop --tf32");
        }
        return v != null ? v : MatmulVariant.register(TileChoice.forDevice(device));
    }

    private static void requireCublas(TornadoDevice device, String deviceId, String kind) {
        String why = CublasTasks.unavailableReason(device);
        if (why != null) {
            throw new IllegalArgumentException("--matmul " + kind + " on device " + deviceId + " (" + physicalName(device)
                    + "): " + why + ". Use --matmul jit or auto.");
        }
    }

    /** What {@link TileChoice} files this device's tuned tile shape under. */
    public String tileCacheKey() {
        return TileChoice.key(device);
    }

    /**
     * How the compiled plans keep parameters: {@code shared} (one array per kind: AdamW and the
     * gradient norm one launch each), else {@code own: <why>}; null before the first run compiles.
     */
    public String parameterLayout() {
        if (residency == null) return null;
        return residency.flatWhy == null ? "shared" : "own: " + residency.flatWhy;
    }

    /** Why cuBLAS cannot serve this backend's device, or null when it can. */
    public String cublasUnavailableReason() {
        return CublasTasks.unavailableReason(device);
    }

    /** The matmul family's body on this backend. */
    public MatmulVariant matmul() {
        return matmul;
    }

    private static int[] parse(String id) {
        String[] p = id.split(":");
        try {
            if (p.length == 2) {
                int b = Integer.parseInt(p[0].trim());
                int d = Integer.parseInt(p[1].trim());
                if (b >= 0 && d >= 0) return new int[] {b, d};
            }
        } catch (NumberFormatException e) {
            // falls through to the message below
        }
        throw new IllegalArgumentException("device '" + id + "' is not <backend>:<device> (e.g. 0:0); 'sffn devices' lists them");
    }

    private static int indexOf(TornadoRuntime rt, TornadoDevice device) {
        var backend = rt.getBackend(device.getBackendIndex());
        for (int d = 0; d < backend.getNumDevices(); d++) {
            if (backend.getDevice(d).getDeviceName().equals(device.getDeviceName())) return d;
        }
        return 0;
    }

    /** The devices TornadoVM can reach, in {@code backend:device} order. */
    public static List<Backends.DeviceInfo> devices() {
        TornadoRuntime rt = TornadoRuntimeProvider.getTornadoRuntime();
        List<Backends.DeviceInfo> out = new ArrayList<>();
        for (int b = 0; b < rt.getNumBackends(); b++) {
            var backend = rt.getBackend(b);
            for (int d = 0; d < backend.getNumDevices(); d++) {
                TornadoDevice dev = backend.getDevice(d);
                out.add(new Backends.DeviceInfo(b + ":" + d, physicalName(dev),
                        dev.getDescription(), String.valueOf(dev.getTornadoVMBackend()), dev.getPlatformName(),
                        String.valueOf(dev.getDeviceType()), dev.getMaxGlobalMemory(), dev.getMaxAllocMemory()));
            }
        }
        return out;
    }

    /** The driver's name for the device (e.g. NVIDIA H200), else TornadoVM's (opencl-0-0). */
    private static String physicalName(TornadoDevice dev) {
        var physical = dev.getPhysicalDevice();
        String name = physical == null ? null : physical.getDeviceName();
        return name == null || name.isBlank() ? dev.getDeviceName() : name.trim();
    }

    @Override
    public String describe() {
        return String.format(Locale.ROOT, "tornado %s %s (%s, %s)%s", deviceId, physicalName(device),
                device.getTornadoVMBackend(), device.getPlatformName().trim(),
                tuned ? ", matmul " + matmul.label() : ", portable bodies only");
    }

    @Override
    public void prepare(Plan plan) {
        for (Plan p : plans) if (p == plan) return;
        retire();
        plans.add(plan);
    }

    @Override
    public void run(Plan plan) {
        if (!isPrepared(plan)) {
            throw new IllegalStateException("plan '" + plan.name() + "' was not prepared on this backend; call prepare first");
        }
        if (residency == null) {
            System.err.printf(Locale.ROOT, "tornado: compiling %d plan(s) for %s ...%n", plans.size(), describe());
            residency = Residency.build(plans, device, tuned, matmul, profile);
            tasksPerPlan = residency.tasksPerPlan;
            String layout = residency.flatWhy == null ? "; parameters in shared arrays (AdamW in one launch)"
                    : FlatParams.NO_OPTIMIZER.equals(residency.flatWhy) ? ""
                    : "; parameters in arrays of their own (" + residency.flatWhy + ")";
            System.err.printf(Locale.ROOT, "tornado: %d graphs, %d tasks compiled in %.1f s%s%n",
                    residency.graphCount, residency.taskCount, residency.compileSeconds, layout);
            if (Boolean.getBoolean(TASKS_PROPERTY)) {
                System.err.println("tornado: tasks (kernel launches) per run of each plan: " + residency.tasksPerPlan);
            }
        }
        if (!residency.uploaded()) {
            residency.upload();
            hostNewer.clear();
        }
        residency.run(plan);
    }

    @Override
    public void toDevice(Plan plan, Object... tensors) {
        if (residency == null || !residency.uploaded()) {
            for (Object t : tensors) hostNewer.put(Residency.array(t), Boolean.TRUE);
            return;
        }
        // The next run uploads every array again; first bring back what only the device has.
        for (Object t : tensors) hostNewer.put(Residency.array(t), Boolean.TRUE);
        if (residency.deviceAhead()) residency.download(notHostNewer(residency.carried()));
        residency.invalidateUpload();
    }

    @Override
    public void toHost(Plan plan, Object... tensors) {
        if (residency == null || !residency.uploaded() || !residency.deviceAhead()) return;
        List<Object> arrays = new ArrayList<>();
        for (Object t : tensors) {
            Object a = Residency.array(t);
            if (residency.carries(a) && !hostNewer.containsKey(a)) arrays.add(a);
        }
        residency.download(arrays.toArray());
    }

    @Override
    public void release(Plan plan) {
        for (int i = 0; i < plans.size(); i++) {
            if (plans.get(i) == plan) {
                retire();
                plans.remove(i);
                return;
            }
        }
    }

    /** Brings the device's values to the host and frees the device, so the plans can be rebuilt. */
    private void retire() {
        if (residency == null) return;
        if (residency.uploaded() && residency.deviceAhead()) residency.download(notHostNewer(residency.carried()));
        residency.close();
        residency = null;
    }

    private Object[] notHostNewer(java.util.Collection<Object> arrays) {
        List<Object> out = new ArrayList<>(arrays.size());
        for (Object a : arrays) if (!hostNewer.containsKey(a)) out.add(a);
        return out.toArray();
    }

    private boolean isPrepared(Plan plan) {
        for (Plan p : plans) if (p == plan) return true;
        return false;
    }

    @Override
    public void close() {
        if (profile != null && !profile.isEmpty()) {
            System.err.printf(Locale.ROOT, "device time per kernel kind on %s (--profile, TornadoVM's profiler):%n%s"
                            + "%d launches, %.1f ms of kernels and copies; tasks (kernel launches) per run of each plan: %s%n",
                    describe(), profile.table(), profile.totalLaunches(), profile.totalNanos() / 1e6, tasksPerPlan);
        }
        if (residency != null) {
            residency.close();
            residency = null;
        }
        plans.clear();
    }
}
