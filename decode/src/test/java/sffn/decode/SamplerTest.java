package sffn.decode;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SamplerTest {
    static final float[] LOGITS = {0.1f, 2.0f, -1.0f, 1.5f, 0.0f, 3.0f, -2.0f};

    @Test
    void greedyTakesTheLargestLogit() {
        assertEquals(5, new Sampler(Sampler.Settings.greedy()).sample(LOGITS, 0, LOGITS.length));
        float[] shifted = new float[10];
        System.arraycopy(LOGITS, 0, shifted, 3, LOGITS.length);
        assertEquals(5, new Sampler(Sampler.Settings.greedy()).sample(shifted, 3, LOGITS.length), "reads at the offset");
    }

    @Test
    void topKSamplesOnlyAmongTheKMostLikely() {
        Sampler s = new Sampler(new Sampler.Settings(1.0, 2, 1.0, 42));
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < 2000; i++) seen.add(s.sample(LOGITS, 0, LOGITS.length));
        assertEquals(Set.of(5, 1), seen);
    }

    @Test
    void topPKeepsTheSmallestSetReachingP() {
        // softmax(LOGITS): token 5 has 0.54, token 1 0.20, token 3 0.12: p = 0.7 needs {5, 1}.
        Sampler s = new Sampler(new Sampler.Settings(1.0, 0, 0.7, 3));
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < 2000; i++) seen.add(s.sample(LOGITS, 0, LOGITS.length));
        assertEquals(Set.of(5, 1), seen);
    }

    @Test
    void samplingFollowsTheSoftmaxAndIsReproducibleFromTheSeed() {
        int n = 20000;
        int[] counts = new int[LOGITS.length];
        Sampler s = new Sampler(new Sampler.Settings(1.0, 0, 1.0, 7));
        int[] first = new int[50];
        for (int i = 0; i < n; i++) {
            int t = s.sample(LOGITS, 0, LOGITS.length);
            counts[t]++;
            if (i < first.length) first[i] = t;
        }
        double z = 0;
        for (float l : LOGITS) z += Math.exp(l);
        for (int t = 0; t < LOGITS.length; t++) {
            double p = Math.exp(LOGITS[t]) / z;
            double sd = Math.sqrt(p * (1 - p) / n);
            assertEquals(p, counts[t] / (double) n, 5 * sd + 1e-4, "frequency of token " + t);
        }
        Sampler again = new Sampler(new Sampler.Settings(1.0, 0, 1.0, 7));
        int[] replay = new int[first.length];
        for (int i = 0; i < replay.length; i++) replay[i] = again.sample(LOGITS, 0, LOGITS.length);
        assertArrayEquals(first, replay);
    }

    @Test
    void lowTemperatureSharpensTowardsGreedy() {
        Sampler s = new Sampler(new Sampler.Settings(0.05, 0, 1.0, 1));
        for (int i = 0; i < 200; i++) assertEquals(5, s.sample(LOGITS, 0, LOGITS.length));
    }

    @Test
    void badSettingsAreRefusedWithTheOptionName() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Sampler.Settings(-1, 0, 1, 0)).getMessage().contains("--temperature"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Sampler.Settings(1, -3, 1, 0)).getMessage().contains("--top-k"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Sampler.Settings(1, 0, 0, 0)).getMessage().contains("--top-p"));
    }
}
