package sffn.kernels.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;
import sffn.kernels.Tensor;
import sffn.kernels.backend.CpuBackend;

class PlanTest {

    static Tensor filled(String name, int n, float v) {
        Tensor t = new Tensor(name, n);
        t.fill(v);
        return t;
    }

    /**
     * acc = a; acc += b; s1 = acc; acc += c; s2 = acc, over two sections: copies do not commute
     * with adds, so any other order leaves s1 != a + b or s2 != a + b + c.
     */
    @Test
    void runCpuRunsEveryCallInOrderAcrossSections() {
        int n = 37;
        Tensor a = filled("a", n, 1);
        Tensor b = filled("b", n, 2);
        Tensor c = filled("c", n, 4);
        Tensor acc = filled("acc", n, Float.NaN);
        Tensor s1 = filled("s1", n, Float.NaN);
        Tensor s2 = filled("s2", n, Float.NaN);
        Plan plan = new Plan("order")
                .section("first")
                .add(new KernelCall.Copy(a, acc, n))
                .add(new KernelCall.ResidualAdd(acc, b, n))
                .add(new KernelCall.Copy(acc, s1, n))
                .section("second")
                .add(new KernelCall.ResidualAdd(acc, c, n))
                .add(new KernelCall.Copy(acc, s2, n));
        plan.runCpu();
        for (int i = 0; i < n; i++) {
            assertEquals(3f, s1.data[i], "s1[" + i + "]");
            assertEquals(7f, s2.data[i], "s2[" + i + "]");
        }

        a.fill(10);
        new CpuBackend().run(plan);
        assertEquals(12f, s1.data[0], "the CPU backend runs the plan again, in order");
        assertEquals(16f, s2.data[0]);
    }

    @Test
    void sectionsKeepTheirNamesCallsAndOrder() {
        Tensor x = new Tensor("x", 3);
        KernelCall z1 = new KernelCall.Zero(x);
        KernelCall z2 = new KernelCall.Zero(x);
        KernelCall z3 = new KernelCall.Zero(x);
        Plan plan = new Plan("step").add(z1).section("layer0").add(z2).add(z3).section("empty");
        assertEquals("step", plan.name());
        assertEquals(3, plan.size());
        List<Plan.Section> sections = plan.sections();
        assertEquals(List.of("step", "layer0", "empty"), sections.stream().map(Plan.Section::name).toList());
        assertEquals(List.of(z1), sections.get(0).calls());
        assertEquals(List.of(z2, z3), sections.get(1).calls());
        assertEquals(List.of(), sections.get(2).calls());
        assertThrows(UnsupportedOperationException.class, () -> plan.sections().clear());
    }

    @Test
    void hostInputsAndOutputsKeepInsertionOrderWithoutDuplicates() {
        Tensor a = new Tensor("a", 1);
        Tensor b = new Tensor("b", 1);
        Tensor c = new Tensor("c", 1);
        Plan plan = new Plan("p").hostInputs(b, a).hostInputs(b).hostOutputs(c, a, c);
        assertEquals(List.of(b, a), List.copyOf(plan.hostInputs()));
        assertEquals(List.of(c, a), List.copyOf(plan.hostOutputs()));
        assertThrows(UnsupportedOperationException.class, () -> plan.hostInputs().clear());
    }
}
