package sffn.train;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * A resumed run whose training config was changed on the command line ({@code train --resume
 * --steps ...}): which changes are allowed, what they do, and whether the run stays bit-exact with
 * the plan it was started with.
 */
public final class RunChange {
    /** Fields that fix the data order, the windows or the guided phase's shape: a change needs a new run. */
    private static final Set<String> FIXED = Set.of("seed", "batch_size", "seq_len", "grad_accum",
            "self_guided.enabled", "self_guided.schedule", "self_guided.mode", "self_guided.reduce_flop");
    /** Fields whose change leaves the weights of every step as the original plan had them. */
    private static final Set<String> CADENCE = Set.of("eval_every", "eval_windows", "save_every");

    /**
     * @param config the config the run continues with
     * @param lines  what changed and what it means, for the user (empty when nothing changed)
     */
    public record Result(TrainConfig config, List<String> lines) {
    }

    private RunChange() {
    }

    /**
     * Checks {@code requested} against the saved {@code before} of a run at {@code step}. When the
     * step count changes and the guide ratio is not given anew, the ratio is adjusted so that the
     * guided phase keeps its number of steps (a guide already dropped cannot come back).
     *
     * @param ratioGiven whether the user set the guide ratio on this command line
     * @throws IllegalArgumentException for a change that needs a new run, or a run shortened below its current step
     */
    public static Result apply(TrainConfig before, TrainConfig requested, int step, boolean ratioGiven) {
        TrainConfig after = requested;
        if (before.selfGuided().enabled() && after.selfGuided().enabled() && !ratioGiven && after.steps() != before.steps()) {
            after = keepGuidedSteps(after, before.guidedSteps());
        }
        List<String> changes = new ArrayList<>();
        boolean exact = true;
        diff("", before.toJson(), after.toJson(), changes);
        for (String c : changes) {
            String field = c.substring(0, c.indexOf(' '));
            if (FIXED.contains(field)) {
                throw new IllegalArgumentException("--resume cannot change " + field + " (" + c.substring(field.length() + 1)
                        + "): it fixes the data order, the windows or the guided phase of the run; start a new run instead");
            }
            exact &= CADENCE.contains(field);
        }
        if (after.totalSteps() < step) {
            throw new IllegalArgumentException("the run is already at step " + step + "; --steps/--tokens/--flop-budget must"
                    + " give at least that many steps (they give " + after.totalSteps() + ")");
        }
        if (after.guidedSteps() != before.guidedSteps() && step > Math.min(before.guidedSteps(), after.guidedSteps())) {
            throw new IllegalArgumentException("the guided phase had " + before.guidedSteps() + " steps and the run is at step "
                    + step + "; it cannot become " + after.guidedSteps() + " steps long now");
        }
        List<String> lines = new ArrayList<>();
        if (!changes.isEmpty()) {
            lines.add("resume: changed " + String.join(", ", changes));
            lines.add(exact ? "resume: evaluation and checkpoint cadence only; the weights stay bit-exact with the original plan"
                    : "resume: the run is no longer bit-exact with its original plan (from step " + step + " on, e.g. the"
                    + " learning-rate schedule follows the new settings)");
        }
        return new Result(after, lines);
    }

    private static TrainConfig keepGuidedSteps(TrainConfig c, int guided) {
        double ratio = Math.min(1.0, (guided + 0.5) / c.steps());
        while (ratio > 0 && (int) (c.steps() * ratio) > guided) {
            ratio = Math.nextDown(ratio);
        }
        if (ratio <= 0 || (int) (c.steps() * ratio) != guided) {
            return c; // cannot keep it (e.g. fewer steps than guided ones); apply() reports the conflict
        }
        double r = ratio;
        return c.with(b -> {
            b.selfGuided = new TrainConfig.SelfGuided(b.selfGuided.enabled(), r, b.selfGuided.schedule(),
                    b.selfGuided.mode(), b.selfGuided.reduceFlop());
            return b;
        });
    }

    private static void diff(String prefix, JsonNode a, JsonNode b, List<String> out) {
        for (Iterator<String> it = b.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            JsonNode x = a.get(name);
            JsonNode y = b.get(name);
            if (y.isObject() && x != null && x.isObject()) {
                diff(prefix + name + ".", x, y, out);
            } else if (x == null || !x.equals(y)) {
                if ((prefix + name).equals("self_guided.max_step_ratio") && x != null
                        && Math.abs(x.asDouble() - y.asDouble()) < 1e-9 * Math.abs(x.asDouble())) {
                    continue;
                }
                out.add(String.format(Locale.ROOT, "%s%s %s -> %s", prefix, name, x == null ? "none" : x.asText(), y.asText()));
            }
        }
    }
}
