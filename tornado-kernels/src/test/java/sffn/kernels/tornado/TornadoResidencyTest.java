package sffn.kernels.tornado;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import sffn.kernels.Tensor;
import sffn.kernels.backend.Backends;
import sffn.kernels.plan.KernelCall.Copy;
import sffn.kernels.plan.KernelCall.ResidualAdd;
import sffn.kernels.plan.Plan;

/**
 * What the TornadoVM backend promises about device memory, shown with copies and adds (exact in
 * float32): a tensor one plan writes is what another plan reads next, on the device; the host sees
 * device values only after toHost; toDevice pushes host rewrites without losing what only the
 * device had; and preparing or releasing plans (which rebuilds the graphs) keeps every value.
 */
class TornadoResidencyTest {
    static final int N = 37;

    final Tensor p = new Tensor("p", N);          // a "parameter": updated on the device by one plan
    final Tensor q = new Tensor("q", N);          // only ever changed on the device
    final Tensor delta = new Tensor("delta", N);  // host input of the update plan
    final Tensor out = new Tensor("out", N);      // host output of the read plan
    final Plan update = new Plan("update").add(new ResidualAdd(p, delta, N)).add(new ResidualAdd(q, delta, N))
            .hostInputs(delta);
    final Plan read = new Plan("read").add(new Copy(p, out, N)).hostOutputs(out);

    @BeforeEach
    void tornado() {
        String why = Backends.tornadoUnavailableReason();
        Assumptions.assumeTrue(why == null, () -> why + " (TornadoVM tests run with scripts/test-tornado)");
        for (int i = 0; i < N; i++) {
            p.data[i] = i;
            q.data[i] = 100 + i;
        }
    }

    private float[] expected(float base, float added) {
        float[] e = new float[N];
        for (int i = 0; i < N; i++) e[i] = base + i + added;
        return e;
    }

    @Test
    void planDataStaysOnTheDeviceAndMovesOnlyWhenAsked() {
        try (TornadoBackend b = new TornadoBackend(System.getProperty("sffn.tornado.device"), false)) {
            b.prepare(update);
            b.prepare(read);
            delta.fill(1f);
            b.run(update);
            delta.fill(2f);
            b.run(update);
            b.run(read);
            assertArrayEquals(expected(0, 0), p.data, "the host copy of p changes only on toHost");
            b.toHost(read, out);
            assertArrayEquals(expected(0, 3), out.data, "read sees the p that update wrote on the device");

            // The host rewrites p (a checkpoint load); q's device value must survive the push.
            for (int i = 0; i < N; i++) p.data[i] = 50 + i;
            b.toDevice(update, p);
            b.run(read);
            b.toHost(read, out, q);
            assertArrayEquals(expected(50, 0), out.data, "read sees the pushed p");
            assertArrayEquals(expected(100, 3), q.data, "q keeps its device value across the push");

            // A new plan rebuilds the graphs: every value carries over.
            Tensor out2 = new Tensor("out2", N);
            Plan readQ = new Plan("read q").add(new Copy(q, out2, N)).hostOutputs(out2);
            b.prepare(readQ);
            delta.fill(1f);
            b.run(update);
            b.run(readQ);
            b.toHost(readQ, out2);
            assertArrayEquals(expected(100, 4), out2.data, "q after the rebuild and one more update");
            b.release(readQ);
            b.run(read);
            b.toHost(read, out);
            assertArrayEquals(expected(50, 1), out.data, "p after a release");
        }
    }
}
