package sffn.kernels.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Method;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import sffn.kernels.Tensor;
import sffn.kernels.backend.Backends;
import sffn.kernels.plan.KernelCall.BlockDiagForward;
import sffn.kernels.plan.KernelCall.MatmulForward;

/**
 * The cuBLAS glue against the TornadoVM API it runs with (an SDK's 5.2 API, under
 * scripts/test-tornado): the descriptor it builds reflectively is what TornadoVM's own
 * {@code CuBlas} factories build (library, function, parameters, access; the TF32 math mode as
 * tuning), and a device that cannot run library tasks is refused with the reason. The products
 * themselves are {@code TornadoKernelAgreementTest}'s, on a CUDA device.
 */
class TornadoCublasTest {
    @BeforeEach
    void tornado() {
        String why = Backends.tornadoUnavailableReason();
        Assumptions.assumeTrue(why == null, () -> why + " (TornadoVM tests run with scripts/test-tornado)");
    }

    @Test
    void theDescriptorIsTheOneTornadoVMsFactoriesBuild() throws Exception {
        Assumptions.assumeTrue(hasLibraryTasks(), "this TornadoVM API has no library tasks (TornadoVM 5.2 has)");
        int m = 5;
        int n = 3;
        int k = 4;
        MatmulForward call = new MatmulForward(new Tensor("a", m, k), new Tensor("b", n, k), null, new Tensor("c", m, n), m, n,
                k, true);
        CublasGemm g = CublasGemm.of(GemmShape.of(call));
        Object d = CublasTasks.descriptor(g, false);
        assertEquals("nvidia/cublas", d.getClass().getMethod("getLibraryName").invoke(d));
        assertEquals("cublasSgemm", d.getClass().getMethod("getFunctionName").invoke(d));
        Object[] params = (Object[]) d.getClass().getMethod("getParameters").invoke(d);
        assertEquals(13, params.length);
        assertSame(call.b().data, params[6], "the row-major B is cuBLAS's A");
        assertSame(call.a().data, params[8], "the row-major A is cuBLAS's B");
        assertSame(call.c().data, params[11]);
        Object[] access = (Object[]) d.getClass().getMethod("getAccess").invoke(d);
        assertEquals(13, access.length);
        assertEquals("READ_WRITE", String.valueOf(access[11]), "beta 1 reads C");
        assertEquals("READ_ONLY", String.valueOf(access[6]));
        assertNull(d.getClass().getMethod("getTuning").invoke(d));

        BlockDiagForward block = new BlockDiagForward(new Tensor("x", 7, 6), new Tensor("w", 2, 5, 3), new Tensor("y", 7, 10), 7,
                2, 5, 3, false);
        Object db = CublasTasks.descriptor(CublasGemm.of(GemmShape.of(block)), false);
        assertEquals("cublasSgemmStridedBatched", db.getClass().getMethod("getFunctionName").invoke(db));
        Object[] blockAccess = (Object[]) db.getClass().getMethod("getAccess").invoke(db);
        assertEquals(17, blockAccess.length);
        assertEquals("WRITE_ONLY", String.valueOf(blockAccess[13]), "beta 0 only writes C");

        if (hasCublasModule()) {
            Object t = CublasTasks.descriptor(g, true);
            Object tuning = t.getClass().getMethod("getTuning").invoke(t);
            assertEquals("CUBLAS_TF32_TENSOR_OP_MATH", String.valueOf(tuning.getClass().getMethod("getMathMode").invoke(tuning)));
        } else {
            System.out.println("TF32 tuning not checked: the SDK has no tornado.cublas module on the module path");
        }
    }

    @Test
    void aDeviceOffTheCudaBackendIsRefusedWithTheReason() {
        try (TornadoBackend probe = new TornadoBackend(System.getProperty("sffn.tornado.device"), true, MatmulVariant.LOOP)) {
            String why = probe.cublasUnavailableReason();
            Assumptions.assumeTrue(why != null, "this device offers cuBLAS");
            assertTrue(why.contains("CUDA"), why);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new TornadoBackend(System.getProperty("sffn.tornado.device"), true, MatmulVariant.CUBLAS).close());
            assertTrue(e.getMessage().startsWith("--matmul cublas on device "), e.getMessage());
            assertTrue(e.getMessage().contains(why), e.getMessage());
            // auto falls back to the register-tiled kernels.
            String before = System.getProperty(MatmulVariant.PROPERTY);
            System.setProperty(MatmulVariant.PROPERTY, "auto");
            try (TornadoBackend auto = new TornadoBackend(System.getProperty("sffn.tornado.device"))) {
                assertTrue(auto.matmul().isRegister(), auto.matmul().label());
            } finally {
                if (before == null) System.clearProperty(MatmulVariant.PROPERTY);
                else System.setProperty(MatmulVariant.PROPERTY, before);
            }
        }
    }

    private static boolean hasLibraryTasks() {
        for (Method m : uk.ac.manchester.tornado.api.TaskGraph.class.getMethods()) {
            if (m.getName().equals("libraryTask")) return true;
        }
        return false;
    }

    private static boolean hasCublasModule() {
        try {
            Class.forName("uk.ac.manchester.tornado.cublas.CuBlasOptions");
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }
}
