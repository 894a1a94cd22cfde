package sffn.decode;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from logits: greedy at temperature 0; otherwise softmax at the given
 * temperature, restricted to the {@code topK} most likely tokens (0: all) and to the smallest
 * set whose probability reaches {@code topP} (1: all), sampled with a seeded generator.
 */
public final class Sampler {

    public record Settings(double temperature, int topK, double topP, long seed) {
        public Settings {
            if (temperature < 0 || Double.isNaN(temperature)) {
                throw new IllegalArgumentException("--temperature must be >= 0, got " + temperature);
            }
            if (topK < 0) throw new IllegalArgumentException("--top-k must be >= 0 (0: off), got " + topK);
            if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("--top-p must be in (0, 1], got " + topP);
        }

        public static Settings greedy() {
            return new Settings(0, 0, 1, 0);
        }
    }

    private final Settings settings;
    private final SplittableRandom rng;
    private double[] probs = new double[0];
    private long[] order = new long[0];

    public Sampler(Settings settings) {
        this.settings = settings;
        this.rng = new SplittableRandom(settings.seed());
    }

    /** Samples from {@code logits[off .. off + vocab)}. */
    public int sample(float[] logits, int off, int vocab) {
        if (settings.temperature() == 0) return argmax(logits, off, vocab);
        if (probs.length != vocab) {
            probs = new double[vocab];
            order = new long[vocab];
        }
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) max = Math.max(max, logits[off + i]);
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            double p = Math.exp((logits[off + i] - max) / settings.temperature());
            probs[i] = p;
            sum += p;
        }
        int keep = vocab;
        boolean restricted = settings.topK() > 0 && settings.topK() < vocab || settings.topP() < 1;
        if (!restricted) return draw(sum, vocab);
        // Sort by probability, descending: pack (probability bits, index) so one primitive sort does it.
        for (int i = 0; i < vocab; i++) {
            order[i] = ((long) Float.floatToIntBits((float) (probs[i] / sum)) << 32) | i;
        }
        Arrays.sort(order, 0, vocab);
        if (settings.topK() > 0) keep = Math.min(keep, settings.topK());
        if (settings.topP() < 1) {
            double cum = 0;
            int k = 0;
            while (k < keep) {
                cum += probs[(int) order[vocab - 1 - k]] / sum;
                k++;
                if (cum >= settings.topP()) break;
            }
            keep = k;
        }
        double kept = 0;
        for (int k = 0; k < keep; k++) kept += probs[(int) order[vocab - 1 - k]];
        double u = rng.nextDouble() * kept;
        for (int k = 0; k < keep; k++) {
            int i = (int) order[vocab - 1 - k];
            u -= probs[i];
            if (u < 0) return i;
        }
        return (int) order[vocab - keep];
    }

    private int draw(double sum, int vocab) {
        double u = rng.nextDouble() * sum;
        for (int i = 0; i < vocab; i++) {
            u -= probs[i];
            if (u < 0) return i;
        }
        return vocab - 1;
    }

    static int argmax(float[] logits, int off, int vocab) {
        int best = 0;
        for (int i = 1; i < vocab; i++) if (logits[off + i] > logits[off + best]) best = i;
        return best;
    }
}
