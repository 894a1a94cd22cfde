package sffn.train;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.Locale;
import sffn.nn.config.ConfigException;
import sffn.nn.config.JsonFields;

/**
 * How to train: batch shape, run length, AdamW and its schedule, evaluation and checkpoint
 * cadence, and self-guided training. Defaults are the paper's: AdamW (0.9, 0.999, wd 0.1), cosine
 * LR with 10% warmup decaying to 0.1 x lr, clipping at 1.0.
 *
 * @param batchSize   sequences per micro-batch
 * @param gradAccum   micro-batches accumulated into one optimizer step
 * @param steps       optimizer steps of the base run (fixedflop adds the guided steps again)
 * @param evalEvery   steps between evaluations (0: only at the end; default {@value #DEFAULT_EVAL_EVERY})
 * @param evalWindows validation windows per evaluation (0: all)
 * @param saveEvery   steps between checkpoints (0: only at the end; default {@value #DEFAULT_SAVE_EVERY})
 */
public record TrainConfig(
        long seed,
        int batchSize,
        int seqLen,
        int gradAccum,
        int steps,
        double lr,
        double minLrRatio,
        double warmupRatio,
        double beta1,
        double beta2,
        double eps,
        double weightDecay,
        double gradClip,
        int evalEvery,
        int evalWindows,
        int saveEvery,
        SelfGuided selfGuided) {

    /**
     * Evaluation and checkpoint cadence when the config leaves it out: often enough that a long run
     * shows its validation loss and loses at most this many steps to a crash (nanoGPT evaluates and
     * saves every 2000 iterations of larger batches); a run also evaluates and saves at its end.
     */
    public static final int DEFAULT_EVAL_EVERY = 500;
    public static final int DEFAULT_SAVE_EVERY = 500;

    /** Guide schedule shape. */
    public enum Schedule { COSINE, LINEAR }

    /** {@code fixedstep}: guide over the first part of the run; {@code fixedflop}: repeat those steps at the end without it. */
    public enum Mode { FIXEDSTEP, FIXEDFLOP }

    /**
     * Self-guided training as in the paper's code.
     *
     * @param maxStepRatio guided steps = this x the base run's steps
     * @param reduceFlop   skip each guide with probability 1 - a (seeded)
     */
    public record SelfGuided(boolean enabled, double maxStepRatio, Schedule schedule, Mode mode, boolean reduceFlop) {
        public static final SelfGuided OFF = new SelfGuided(false, 0.5, Schedule.COSINE, Mode.FIXEDSTEP, false);

        public SelfGuided {
            if (!(maxStepRatio > 0 && maxStepRatio <= 1)) {
                throw new ConfigException("self_guided: field 'max_step_ratio' must be in (0, 1], got " + maxStepRatio);
            }
        }

        /** Guided steps of a base run of {@code steps}, as the paper's code rounds them. */
        public int guidedSteps(int steps) {
            return enabled ? (int) (steps * maxStepRatio) : 0;
        }

        static SelfGuided from(JsonFields f) {
            SelfGuided s = new SelfGuided(f.bool("enabled", true), f.number("max_step_ratio", 0.5),
                    f.choice("schedule", Schedule.class, Schedule.COSINE), f.choice("mode", Mode.class, Mode.FIXEDSTEP),
                    f.bool("reduce_flop", false));
            f.rejectUnknown();
            return s;
        }

        ObjectNode toJson() {
            ObjectNode n = new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode();
            n.put("enabled", enabled);
            n.put("max_step_ratio", maxStepRatio);
            n.put("schedule", schedule.name().toLowerCase(Locale.ROOT));
            n.put("mode", mode.name().toLowerCase(Locale.ROOT));
            n.put("reduce_flop", reduceFlop);
            return n;
        }
    }

    public TrainConfig {
        check(batchSize > 0, "batch_size", "must be positive, got " + batchSize);
        check(seqLen > 0, "seq_len", "must be positive, got " + seqLen);
        check(gradAccum > 0, "grad_accum", "must be positive, got " + gradAccum);
        check(steps > 0, "steps", "must be positive, got " + steps);
        check(lr > 0 && Double.isFinite(lr), "lr", "must be a positive finite number, got " + lr);
        check(minLrRatio >= 0 && minLrRatio <= 1, "min_lr_ratio", "must be in [0, 1], got " + minLrRatio);
        check(warmupRatio >= 0 && warmupRatio < 1, "warmup_ratio", "must be in [0, 1), got " + warmupRatio);
        check(beta1 >= 0 && beta1 < 1, "beta1", "must be in [0, 1), got " + beta1);
        check(beta2 >= 0 && beta2 < 1, "beta2", "must be in [0, 1), got " + beta2);
        check(eps > 0 && Double.isFinite(eps), "eps", "must be a positive finite number, got " + eps);
        check(weightDecay >= 0 && Double.isFinite(weightDecay), "weight_decay", "must be a finite number >= 0, got " + weightDecay);
        check(gradClip >= 0 && Double.isFinite(gradClip), "grad_clip",
                "must be a finite number >= 0 (0 turns clipping off), got " + gradClip);
        check((long) batchSize * seqLen <= Integer.MAX_VALUE - 8, "batch_size",
                "x seq_len = " + ((long) batchSize * seqLen) + " tokens per micro-batch is more than one buffer can hold");
        check(evalEvery >= 0, "eval_every", "must not be negative, got " + evalEvery);
        check(evalWindows >= 0, "eval_windows", "must not be negative, got " + evalWindows);
        check(saveEvery >= 0, "save_every", "must not be negative, got " + saveEvery);
        if (selfGuided == null) selfGuided = SelfGuided.OFF;
        check((long) steps + selfGuided.guidedSteps(steps) <= Integer.MAX_VALUE, "steps",
                "(" + steps + ") with the repeated guided steps makes more than " + Integer.MAX_VALUE + " steps");
    }

    private static void check(boolean ok, String field, String problem) {
        if (!ok) throw new ConfigException("training config: field '" + field + "' " + problem);
    }

    /** Tokens per optimizer step. */
    public long tokensPerStep() {
        return (long) batchSize * seqLen * gradAccum;
    }

    /** Steps of the whole run: the base steps, plus the guided ones again under fixedflop. */
    public int totalSteps() {
        return selfGuided.enabled() && selfGuided.mode() == Mode.FIXEDFLOP
                ? steps + selfGuided.guidedSteps(steps) : steps;
    }

    public int guidedSteps() {
        return selfGuided.guidedSteps(steps);
    }

    /** Reads a training config; {@code steps} may be given as {@code tokens} instead. */
    public static TrainConfig read(Path file) {
        return from(JsonFields.read(file));
    }

    public static TrainConfig from(JsonFields f) {
        try {
            int batch = f.positive("batch_size", 16);
            int seq = f.positive("seq_len", 256);
            int accum = f.positive("grad_accum", 1);
            int steps;
            if (f.has("steps") && f.has("tokens")) throw f.error("tokens", "and 'steps' are both given; give one of them");
            if (f.has("tokens")) {
                steps = stepsForTokens(f.longValue("tokens", 0), (long) batch * seq * accum, f.source() + ": field 'tokens'");
            } else {
                steps = f.positive("steps", 1000);
            }
            TrainConfig c = new TrainConfig(
                    f.longValue("seed", 1234), batch, seq, accum, steps,
                    f.number("lr", 6e-4), f.number("min_lr_ratio", 0.1), f.number("warmup_ratio", 0.1),
                    f.number("beta1", 0.9), f.number("beta2", 0.999), f.number("eps", 1e-8),
                    f.number("weight_decay", 0.1), f.number("grad_clip", 1.0),
                    f.integer("eval_every", DEFAULT_EVAL_EVERY), f.integer("eval_windows", 0),
                    f.integer("save_every", DEFAULT_SAVE_EVERY),
                    f.has("self_guided") ? SelfGuided.from(f.object("self_guided")) : SelfGuided.OFF);
            f.rejectUnknown();
            return c;
        } catch (ConfigException e) {
            String m = e.getMessage();
            if (m.startsWith("training config:")) throw new ConfigException(f.source() + m.substring("training config".length()));
            if (m.startsWith("self_guided:")) throw new ConfigException(f.source() + " (self_guided)" + m.substring("self_guided".length()));
            throw e;
        }
    }

    /**
     * Steps that train on {@code tokens} tokens at {@code perStep} tokens a step (at least one).
     *
     * @param what names the option or field in the message
     */
    public static int stepsForTokens(long tokens, long perStep, String what) {
        if (tokens <= 0) throw new ConfigException(what + " must be positive, got " + tokens);
        long steps = Math.max(1, tokens / perStep);
        if (steps > Integer.MAX_VALUE) {
            throw new ConfigException(what + " = " + tokens + " makes " + steps + " steps of " + perStep
                    + " tokens, more than the " + Integer.MAX_VALUE + " a run can have; raise the batch or lower the tokens");
        }
        return (int) steps;
    }

    public static TrainConfig defaults() {
        return from(JsonFields.parse("defaults", "{}"));
    }

    public ObjectNode toJson() {
        ObjectNode n = new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode();
        n.put("seed", seed);
        n.put("batch_size", batchSize);
        n.put("seq_len", seqLen);
        n.put("grad_accum", gradAccum);
        n.put("steps", steps);
        n.put("lr", lr);
        n.put("min_lr_ratio", minLrRatio);
        n.put("warmup_ratio", warmupRatio);
        n.put("beta1", beta1);
        n.put("beta2", beta2);
        n.put("eps", eps);
        n.put("weight_decay", weightDecay);
        n.put("grad_clip", gradClip);
        n.put("eval_every", evalEvery);
        n.put("eval_windows", evalWindows);
        n.put("save_every", saveEvery);
        if (selfGuided.enabled()) n.set("self_guided", selfGuided.toJson());
        return n;
    }

    public TrainConfig with(java.util.function.UnaryOperator<Builder> edit) {
        return edit.apply(new Builder(this)).build();
    }

    /** Field-by-field overrides (the CLI's options on top of a JSON file). */
    public static final class Builder {
        public long seed;
        public int batchSize;
        public int seqLen;
        public int gradAccum;
        public int steps;
        public double lr;
        public double minLrRatio;
        public double warmupRatio;
        public double beta1;
        public double beta2;
        public double eps;
        public double weightDecay;
        public double gradClip;
        public int evalEvery;
        public int evalWindows;
        public int saveEvery;
        public SelfGuided selfGuided;

        Builder(TrainConfig c) {
            seed = c.seed;
            batchSize = c.batchSize;
            seqLen = c.seqLen;
            gradAccum = c.gradAccum;
            steps = c.steps;
            lr = c.lr;
            minLrRatio = c.minLrRatio;
            warmupRatio = c.warmupRatio;
            beta1 = c.beta1;
            beta2 = c.beta2;
            eps = c.eps;
            weightDecay = c.weightDecay;
            gradClip = c.gradClip;
            evalEvery = c.evalEvery;
            evalWindows = c.evalWindows;
            saveEvery = c.saveEvery;
            selfGuided = c.selfGuided;
        }

        public TrainConfig build() {
            return new TrainConfig(seed, batchSize, seqLen, gradAccum, steps, lr, minLrRatio, warmupRatio, beta1, beta2,
                    eps, weightDecay, gradClip, evalEvery, evalWindows, saveEvery, selfGuided);
        }
    }
}
