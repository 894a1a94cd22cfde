package sffn.train;

/** What the trainer tells the console (or a test) as it goes. */
public interface TrainListener {

    /**
     * One optimizer step done; {@code commWaitSeconds} is the time the step was blocked on
     * data-parallel communication (0 in one process), {@code stepSeconds} the step's wall time.
     */
    record Step(int step, int totalSteps, double loss, double lr, double guideWeight, double gradNorm,
                double tokensPerSecond, long tokens, double flops, boolean guided, double commWaitSeconds,
                double stepSeconds) {
    }

    /** One evaluation done ({@link TrainListener#evaluated}). */
    record Eval(int step, double valLoss, double valPpl, long tokens) {
    }

    default void started(String description, int fromStep, int totalSteps) {
    }

    default void step(Step s) {
    }

    /** An evaluation after {@code step} is about to run; {@link #evaluated} follows. */
    default void evaluating(int step) {
    }

    default void evaluated(Eval e) {
    }

    /**
     * A checkpoint of {@code step} is about to be written (its weights are checked first, by a
     * validation batch among other things); {@link #saved} follows if it is.
     */
    default void saving(int step) {
    }

    default void saved(int step, java.nio.file.Path dir) {
    }

    default void message(String text) {
    }

    default void finished() {
    }

    TrainListener SILENT = new TrainListener() {
    };

    /** Passes every call on to {@code next}; a subclass overrides what it adds. */
    abstract class Forwarding implements TrainListener {
        protected final TrainListener next;

        protected Forwarding(TrainListener next) {
            this.next = next;
        }

        @Override
        public void started(String description, int fromStep, int totalSteps) {
            next.started(description, fromStep, totalSteps);
        }

        @Override
        public void step(Step s) {
            next.step(s);
        }

        @Override
        public void evaluating(int step) {
            next.evaluating(step);
        }

        @Override
        public void evaluated(Eval e) {
            next.evaluated(e);
        }

        @Override
        public void saving(int step) {
            next.saving(step);
        }

        @Override
        public void saved(int step, java.nio.file.Path dir) {
            next.saved(step, dir);
        }

        @Override
        public void message(String text) {
            next.message(text);
        }

        @Override
        public void finished() {
            next.finished();
        }
    }
}
