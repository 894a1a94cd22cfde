package sffn.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import sffn.train.TensorBoardWriter;
import sffn.train.TrainListener;

/** Passes everything on to {@code next} and writes the training and validation scalars to a TensorBoard event file. */
final class TensorBoardListener extends TrainListener.Forwarding implements AutoCloseable {
    private final TensorBoardWriter writer;

    TensorBoardListener(Path dir, TrainListener next) throws IOException {
        super(next);
        this.writer = new TensorBoardWriter(dir);
    }

    private static double now() {
        return System.currentTimeMillis() / 1000.0;
    }

    @Override
    public void started(String description, int fromStep, int totalSteps) {
        next.started(description, fromStep, totalSteps);
        next.message("tensorboard: writing " + writer.file() + " (tensorboard --logdir " + writer.file().getParent() + ")");
    }

    @Override
    public void step(Step s) {
        try {
            double t = now();
            writer.scalar("train/loss", s.step(), s.loss(), t);
            writer.scalar("train/lr", s.step(), s.lr(), t);
            writer.scalar("train/grad_norm", s.step(), s.gradNorm(), t);
            writer.scalar("train/tokens_per_s", s.step(), s.tokensPerSecond(), t);
            if (s.guided()) {
                writer.scalar("train/guide_weight", s.step(), s.guideWeight(), t);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        next.step(s);
    }

    @Override
    public void evaluated(Eval e) {
        try {
            writer.scalar("val/loss", e.step(), e.valLoss(), now());
            writer.scalar("val/ppl", e.step(), e.valPpl(), now());
        } catch (IOException x) {
            throw new UncheckedIOException(x);
        }
        next.evaluated(e);
    }

    @Override
    public void close() throws IOException {
        writer.close();
    }
}
