package sffn.nn;

import org.junit.jupiter.api.Test;
import sffn.nn.config.Activation;
import sffn.nn.config.FfnType;
import sffn.nn.config.MethodConfig;
import sffn.nn.config.ModelConfig;
import sffn.nn.config.Norm;
import sffn.nn.config.PositionEmbedding;
import sffn.nn.config.PostInit;
import sffn.nn.layers.LinearLayer;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class GptInitTest {
    static final ModelConfig CFG = new ModelConfig(24, 24, 40, 4, 2, 3, 16, 37, false, Norm.LAYERNORM, Activation.GELU,
            true, PositionEmbedding.ABSOLUTE, 10000, 0.02);

    @Test
    void parallelInitGivesTheWeightsOfOneLinearAtATimeInAnyOrder() {
        for (MethodConfig method : List.of(new MethodConfig(FfnType.LOWRANK, 8, 0, PostInit.SVD, true),
                new MethodConfig(FfnType.BLOCKDENSE, 12, 4, PostInit.ORTHO, false))) {
            AtomicInteger calls = new AtomicInteger();
            int[] last = new int[2];
            Gpt parallel = new Gpt(CFG, method).init(5, (done, total) -> {
                calls.incrementAndGet();
                synchronized (last) {
                    last[0] = Math.max(last[0], done);
                    last[1] = total;
                }
            });
            assertEquals(4 * CFG.numLayers(), calls.get());
            assertArrayEquals(new int[] {4 * CFG.numLayers(), 4 * CFG.numLayers()}, last);

            // the same draws one linear at a time, last layer first, over poisoned weights
            Gpt reference = new Gpt(CFG, method);
            reference.init(5);
            List<LinearLayer> linears = new ArrayList<>();
            for (Gpt.Block b : reference.blocks()) {
                linears.addAll(List.of(b.qkv(), b.o(), b.fc1(), b.fc2()));
            }
            Collections.reverse(linears);
            for (LinearLayer l : linears) {
                for (Parameter p : l.structure().parameters()) {
                    java.util.Arrays.fill(p.value.data, Float.NaN);
                }
                l.structure().init(5, CFG.initializerRange());
            }
            List<Parameter> a = parallel.parameters();
            List<Parameter> b = reference.parameters();
            for (int i = 0; i < a.size(); i++) {
                assertArrayEquals(b.get(i).value.data, a.get(i).value.data, a.get(i).name);
            }
        }
    }
}
