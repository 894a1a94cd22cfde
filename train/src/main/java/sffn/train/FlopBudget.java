package sffn.train;

import java.util.Locale;
import java.util.function.Consumer;
import sffn.nn.ModelStats;
import sffn.nn.config.MethodConfig;
import sffn.nn.config.ModelConfig;

/**
 * Fits a run to a training-FLOP budget F, so methods compare at equal compute. Without the guide,
 * the run gets as many steps as F buys. Self-guided fixedflop keeps the given steps as the base
 * run and picks the guided ratio r so that base steps, the r x base guided steps' guide, and
 * their repetition at the end add up to F:
 * {@code F = (1 + r) B s + r B g}, with s the step's FLOPs and g its guide's.
 */
public final class FlopBudget {
    private FlopBudget() {
    }

    public static TrainConfig fit(TrainConfig c, ModelConfig m, MethodConfig f, double budget, Consumer<String> note) {
        if (!(budget > 0)) throw new IllegalArgumentException("--flop-budget must be positive, got " + budget);
        double step = ModelStats.of(m, f, c.seqLen()).trainingFlops(1) * c.tokensPerStep();
        TrainConfig.SelfGuided g = c.selfGuided();
        if (g.enabled() && g.mode() == TrainConfig.Mode.FIXEDFLOP) {
            double guide = ModelStats.guideFlopsPerToken(m, f) * c.tokensPerStep();
            double base = c.steps();
            double r = (budget / step - base) / (base * (1 + guide / step));
            if (!(r > 0)) {
                throw new IllegalArgumentException(String.format(Locale.ROOT, "a budget of %.3g FLOPs buys only %.0f steps of"
                        + " %.3g FLOPs, no more than the %d base steps; raise the budget or lower --steps", budget, budget / step,
                        step, c.steps()));
            }
            if (r > 1) {
                throw new IllegalArgumentException(String.format(Locale.ROOT, "the budget leaves room to guide %.2f x the %d base"
                        + " steps, more than all of them; raise --steps", r, c.steps()));
            }
            note.accept(String.format(Locale.ROOT, "flop budget %.3g: %d base steps, guide ratio %.4f (%d guided steps)", budget,
                    c.steps(), r, (int) (c.steps() * r)));
            TrainConfig.SelfGuided fitted = new TrainConfig.SelfGuided(true, r, g.schedule(), g.mode(), g.reduceFlop());
            return c.with(b -> {
                b.selfGuided = fitted;
                return b;
            });
        }
        if (g.enabled()) {
            throw new IllegalArgumentException("--flop-budget fits self-guided runs in fixedflop mode only (add --guide-mode fixedflop)");
        }
        int steps = (int) Math.floor(budget / step);
        if (steps < 1) throw new IllegalArgumentException(String.format(Locale.ROOT, "a budget of %.3g FLOPs buys no step of %.3g", budget, step));
        note.accept(String.format(Locale.ROOT, "flop budget %.3g: %d steps of %.3g FLOPs", budget, steps, step));
        return c.with(b -> {
            b.steps = steps;
            return b;
        });
    }
}
