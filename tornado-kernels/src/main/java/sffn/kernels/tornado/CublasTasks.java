package sffn.kernels.tornado;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.Arrays;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.common.TornadoDevice;

/**
 * The matmul family as cuBLAS library tasks of TornadoVM's hybrid API ({@code TaskGraph.libraryTask},
 * TornadoVM 5.2 and newer): a {@link CublasGemm} becomes a task of the {@code nvidia/cublas} provider
 * in the same task graph as the JIT-compiled kernels, on the same device buffers and CUDA stream.
 *
 * <p>Through reflection, for two reasons. The API the project compiles against by default (the one
 * published on Maven Central) has no library tasks; an SDK's 5.2 API has them. And the provider's
 * factories ({@code CuBlas.cublasSgemm}) take TornadoVM's off-heap {@code FloatArray}s where sffn's
 * tensors are {@code float[]}; the descriptor built here is the one those factories build (library,
 * function, parameters in the provider's order, the access of each), with {@code float[]} operands.
 * That holds because TornadoVM hands the provider each buffer's device address past
 * {@code TornadoNativeArray.ARRAY_HEADER} bytes, which is where a {@code float[]}'s first element
 * lies on the device too when the two agree ({@link #unavailableReason} checks that they do: 16 bytes
 * under the JVM's default compressed class pointers).
 */
public final class CublasTasks {
    static final String LIBRARY = "nvidia/cublas";
    private static final String PROVIDER = "uk.ac.manchester.tornado.cublas.provider.CuBlasLibraryProvider";
    private static final String OPTIONS = "uk.ac.manchester.tornado.cublas.CuBlasOptions";
    private static final String MATH_MODE = "uk.ac.manchester.tornado.cublas.enums.CuBlasMathMode";
    private static final String DESCRIPTOR = "uk.ac.manchester.tornado.api.common.LibraryTaskDescriptor";
    private static final String ACCESS = "uk.ac.manchester.tornado.api.common.Access";
    private static final String NATIVE_ARRAY = "uk.ac.manchester.tornado.api.types.arrays.TornadoNativeArray";

    private CublasTasks() {
    }

    /**
     * Why cuBLAS cannot serve this device, or null when it can: the device must be on TornadoVM's
     * CUDA backend (library tasks run nowhere else), the API must have library tasks, the SDK its
     * {@code tornado.cublas} module, and a {@code float[]}'s data must start where TornadoVM
     * points the library.
     */
    public static String unavailableReason(TornadoDevice device) {
        String backend = String.valueOf(device.getTornadoVMBackend());
        if (!backend.equalsIgnoreCase("CUDA")) {
            return "the device is on TornadoVM's " + backend + " backend; cuBLAS library tasks run only on its CUDA"
                    + " backend (an NVIDIA GPU, and a TornadoVM SDK built with BACKEND=cuda)";
        }
        if (libraryTaskMethod() == null) {
            return "this TornadoVM API has no TaskGraph.libraryTask (TornadoVM 5.2 or newer has; build sffn against"
                    + " the SDK's API with scripts/sffn-tornado)";
        }
        try {
            Class.forName(PROVIDER);
        } catch (ClassNotFoundException | LinkageError e) {
            return "the TornadoVM SDK has no cuBLAS provider (module tornado.cublas): build TornadoVM with BACKEND=cuda";
        }
        long header = arrayHeader();
        long base = sun.misc.Unsafe.ARRAY_FLOAT_BASE_OFFSET;
        if (header != base) {
            return "TornadoVM points libraries " + header + " bytes into a buffer, but a float[]'s data starts at byte "
                    + base + " in this JVM; run without -XX:-UseCompressedClassPointers or -XX:+UseCompactObjectHeaders"
                    + " (or set -Dtornado.panama.objectHeader=" + base + ")";
        }
        return null;
    }

    private static long arrayHeader() {
        try {
            return Class.forName(NATIVE_ARRAY).getField("ARRAY_HEADER").getLong(null);
        } catch (ReflectiveOperationException e) {
            return -1;
        }
    }

    /** {@code TaskGraph.libraryTask(String, LibraryTask1, Object)}, or null in an API without it. */
    private static Method libraryTaskMethod() {
        for (Method m : TaskGraph.class.getMethods()) {
            Class<?>[] p = m.getParameterTypes();
            if (m.getName().equals("libraryTask") && p.length == 3 && p[1].isInterface()
                    && p[1].getSimpleName().equals("LibraryTask1")) {
                return m;
            }
        }
        return null;
    }

    /**
     * Adds {@code g} to {@code graph} as task {@code id}. With {@code tf32}, cuBLAS may multiply in
     * TF32 on tensor cores ({@code CUBLAS_TF32_TENSOR_OP_MATH}); without it the math is FP32.
     */
    public static void add(TaskGraph graph, String id, CublasGemm g, boolean tf32) {
        Object descriptor = descriptor(g, tf32);
        Method libraryTask = libraryTaskMethod();
        if (libraryTask == null) throw new IllegalStateException("this TornadoVM API has no TaskGraph.libraryTask");
        Class<?> factory = libraryTask.getParameterTypes()[1];
        // The one-argument factory returns the descriptor built above; TornadoVM reads the task's
        // arguments and their access from the descriptor alone.
        Object code = Proxy.newProxyInstance(factory.getClassLoader(), new Class<?>[] {factory}, (proxy, method, args) -> {
            if (method.getDeclaringClass() == Object.class) {
                return switch (method.getName()) {
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    default -> "cuBLAS " + g.function();
                };
            }
            return descriptor;
        });
        invoke(libraryTask, graph, id, code, g.c());
    }

    /** The descriptor TornadoVM's {@code CuBlas} factories build, for {@code float[]} operands. */
    static Object descriptor(CublasGemm g, boolean tf32) {
        try {
            Class<?> dc = Class.forName(DESCRIPTOR);
            Object d = dc.getConstructor().newInstance();
            d = dc.getMethod("withLibrary", String.class).invoke(d, LIBRARY);
            d = dc.getMethod("withFunction", String.class).invoke(d, g.function());
            d = dc.getMethod("withParameters", Object[].class).invoke(d, (Object) g.parameters());
            Object access = accesses(g);
            d = dc.getMethod("withAccess", access.getClass()).invoke(d, access);
            if (tf32) {
                Class<?> oc = Class.forName(OPTIONS);
                @SuppressWarnings({"unchecked", "rawtypes"})
                Object mode = Enum.valueOf((Class) Class.forName(MATH_MODE), "CUBLAS_TF32_TENSOR_OP_MATH");
                Object options = oc.getConstructor().newInstance();
                options = oc.getMethod("withMathMode", mode.getClass()).invoke(options, mode);
                d = dc.getMethod("withTuning", Object.class).invoke(d, options);
            }
            return d;
        } catch (InvocationTargetException e) {
            throw new IllegalStateException("cannot describe " + g.function() + " to TornadoVM: " + e.getCause(), e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot describe " + g.function() + " to TornadoVM (needs TornadoVM 5.2's"
                    + " library tasks" + (tf32 ? " and its tornado.cublas module for --tf32" : "") + "): " + e, e);
        }
    }

    /** READ_ONLY for every parameter but C: READ_WRITE when cuBLAS adds to it, else WRITE_ONLY. */
    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Object accesses(CublasGemm g) throws ClassNotFoundException {
        Class ac = Class.forName(ACCESS);
        Object[] values = new Object[g.parameters().length];
        Arrays.fill(values, Enum.valueOf(ac, "READ_ONLY"));
        values[g.outputIndex()] = Enum.valueOf(ac, g.beta() != 0f ? "READ_WRITE" : "WRITE_ONLY");
        Object array = java.lang.reflect.Array.newInstance(ac, values.length);
        for (int i = 0; i < values.length; i++) java.lang.reflect.Array.set(array, i, values[i]);
        return array;
    }

    private static void invoke(Method m, Object target, Object... args) {
        try {
            m.invoke(target, args);
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException r) throw r;
            throw new IllegalStateException(cause);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }
}
