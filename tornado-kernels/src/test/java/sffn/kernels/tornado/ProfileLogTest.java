package sffn.kernels.tornado;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import sffn.kernels.backend.KernelTimes;

class ProfileLogTest {
    /** Two executions of one graph as TornadoVM 5.2's TimeProfiler.createJson writes them (SILENT mode appends). */
    private static final String LOG = """
            {
                "section3": {
                    "TOTAL_TASK_GRAPH_TIME": "912345",
                    "COPY_IN_TIME": "1500",
                    "COPY_OUT_TIME": "250",
                    "TOTAL_KERNEL_TIME": "7000",
                    "section3.t0_matmul_fwd": {
                        "BACKEND": "OPENCL",
                        "METHOD": "Matmul.forward",
                        "DEVICE_ID": "0:0",
                        "DEVICE": "pthread-skylake-avx512-AMD EPYC",
                        "TASK_COMPILE_GRAAL_TIME": "99",
                        "TASK_KERNEL_TIME": "5000"
                    }, \n\
                    "section3.t1_bias_add": {
                        "BACKEND": "OPENCL",
                        "METHOD": "Bias.add",
                        "DEVICE_ID": "0:0",
                        "DEVICE": "pthread-skylake-avx512-AMD EPYC",
                        "TASK_KERNEL_TIME": "2000"
                    }
                }
            }
            {
                "section3": {
                    "COPY_IN_TIME": "500",
                    "section3.t0_matmul_fwd": {
                        "BACKEND": "OPENCL",
                        "METHOD": "Matmul.forward",
                        "TASK_KERNEL_TIME": "4000"
                    }, \n\
                    "section3.touch12": {
                        "BACKEND": "OPENCL",
                        "METHOD": "Touch.floats"
                    }
                }
            }
            """;

    @Test
    void kernelTimesAddUpPerKindAndCopiesPerDirection() {
        KernelTimes times = new KernelTimes();
        ProfileLog.read(LOG, times);
        String table = times.table();
        assertEquals(9000 + 2000 + 2000 + 250, times.totalNanos(), table);
        // Two matmul launches, one bias add, two copies in, one out; a task without a kernel time is not a launch.
        assertEquals(2 + 1 + 2 + 1, times.totalLaunches(), table);
        assertEquals("matmul_fwd", table.lines().findFirst().orElseThrow().split("\\s+")[0], table);
        assertEquals(true, table.contains("copy to device") && table.contains("copy to host"), table);
    }

    @Test
    void kindsDropTheTaskNumberAndTheGraph() {
        assertEquals("matmul_bwd_w", ProfileLog.kind("train.s2.t17_matmul_bwd_w"));
        assertEquals("touch", ProfileLog.kind("owner4.touch3"));
        assertEquals("tick", ProfileLog.kind("holder1.tick"));
    }
}
