package sffn.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import sffn.kernels.StepScalars;
import sffn.kernels.Tensor;
import sffn.kernels.backend.Backend;
import sffn.nn.Gpt;
import sffn.nn.ModelStats;
import sffn.nn.Parameter;
import sffn.nn.TrainingGraph;
import sffn.nn.config.JsonFields;
import sffn.nn.io.AtomicDirectory;
import sffn.nn.io.ModelCheckpoint;
import sffn.nn.io.Safetensors;
import sffn.nn.layers.LinearLayer;
import sffn.nn.tokenizer.TokenizerInfo;
import sffn.train.data.ShardLoader;
import sffn.train.data.Split;

/**
 * The training loop: micro-batches accumulated into AdamW steps under the LR schedule, the
 * self-guided phase (the guide weight decays to zero, then the guides are dropped; under
 * fixedflop the guided steps' data is trained on again at the end without them), evaluation,
 * atomic checkpoints, and {@code metrics.jsonl}. Every step is a fixed sequence of plans on the
 * backend, so a run stopped and resumed from a checkpoint ends with the same bits as one that
 * never stopped.
 */
public final class Trainer {
    public static final String METRICS = "metrics.jsonl";
    public static final String OPTIMIZER = "optimizer.safetensors";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Gpt model;
    private final TrainConfig cfg;
    private final Backend backend;
    private final Path dataDir;
    private final Path outDir;
    private final TrainListener listener;
    private final ShardLoader trainData;
    private final boolean hasValidation;
    private final List<String> metrics = new ArrayList<>();
    private final double flopsPerToken;
    private final SplitMix64 rng;

    private TrainingGraph graph;
    private Validation validation;
    private OptimizerPlans optimizer;
    private int step;
    private long tokens;
    private double flops;
    private double elapsed;
    private double lastValLoss = Double.NaN;

    private Trainer(Gpt model, TrainConfig cfg, Backend backend, Path dataDir, Path outDir, TrainListener listener,
                    TrainerState state, List<String> metricsSoFar) throws IOException {
        this.model = model;
        this.cfg = cfg;
        this.backend = backend;
        this.dataDir = dataDir;
        this.outDir = outDir;
        this.listener = listener;
        if (cfg.seqLen() > model.config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("training config: seq_len " + cfg.seqLen()
                    + " exceeds the model's max_position_embeddings " + model.config.maxPositionEmbeddings());
        }
        int vocab = model.config.vocabSize();
        trainData = new ShardLoader(dataDir, Split.TRAIN, cfg.batchSize(), cfg.seqLen(), vocab,
                ShardLoader.Options.DEFAULT.withSeed(cfg.seed()));
        this.hasValidation = Validation.available(dataDir);
        this.flopsPerToken = ModelStats.of(model.config, model.method, cfg.seqLen()).trainingFlops(1);
        if (state == null) {
            rng = new SplitMix64(cfg.seed() ^ 0x5DEECE66DL);
        } else {
            step = state.step();
            tokens = state.tokens();
            flops = state.flops();
            elapsed = state.elapsedSeconds();
            rng = new SplitMix64(state.rngState());
            trainData.seek(new ShardLoader.Position(state.loaderEpoch(), state.loaderPosition()));
        }
        metrics.addAll(metricsSoFar);
        buildPlans();
    }

    /** A new run: the model is initialised from the run seed (with guides when self-guided). */
    public static Trainer start(Gpt model, TrainConfig cfg, Backend backend, Path dataDir, Path outDir,
                                TrainListener listener) throws IOException {
        if (cfg.selfGuided().enabled()) {
            if (!model.method.structured()) {
                throw new IllegalArgumentException("self-guided training needs a structured FFN method, but the method is dense");
            }
            if (cfg.guidedSteps() == 0) {
                throw new IllegalArgumentException("self-guided training: max_step_ratio " + cfg.selfGuided().maxStepRatio()
                        + " of " + cfg.steps() + " steps guides no step; raise the ratio or the steps");
            }
            model.addGuides();
        }
        return new Trainer(model, cfg, backend, dataDir, outDir, listener, null, List.of());
    }

    /** Continues the run saved in {@code outDir}; {@code dataDir} null means the one it was trained on. */
    public static Trainer resume(Path outDir, Backend backend, Path dataDir, TrainListener listener) throws IOException {
        return resume(outDir, backend, dataDir, listener, c -> c);
    }

    /** The training config saved in a checkpoint. */
    public static TrainConfig savedConfig(Path outDir) throws IOException {
        JsonNode cfgJson = ModelCheckpoint.readConfig(outDir);
        Path cfgFile = outDir.resolve(ModelCheckpoint.CONFIG);
        if (!cfgJson.has("train")) throw new IllegalArgumentException(cfgFile + ": field 'train' is missing; not a training checkpoint");
        return TrainConfig.from(new JsonFields(cfgFile + " (train)", cfgJson.get("train")));
    }

    /** As {@link #resume(Path, Backend, Path, TrainListener)}, with the saved training config changed by {@code change}. */
    public static Trainer resume(Path outDir, Backend backend, Path dataDir, TrainListener listener,
                                 java.util.function.UnaryOperator<TrainConfig> change) throws IOException {
        JsonNode cfgJson = ModelCheckpoint.readConfig(outDir);
        Path cfgFile = outDir.resolve(ModelCheckpoint.CONFIG);
        TrainConfig cfg = change.apply(savedConfig(outDir));
        Path data = dataDir != null ? dataDir : Path.of(cfgJson.path("data").asText(""));
        if (dataDir == null && !cfgJson.has("data")) {
            throw new IllegalArgumentException(cfgFile + ": field 'data' is missing; pass --data");
        }
        if (dataDir != null) sffn.train.data.TokenizerMatch.require(outDir, dataDir);
        Gpt model = ModelCheckpoint.read(outDir);
        Path opt = outDir.resolve(OPTIMIZER);
        if (!Files.isRegularFile(opt)) throw new IllegalArgumentException(opt + ": missing; cannot resume the optimizer");
        List<Tensor> moments = new ArrayList<>();
        for (Parameter p : model.parameters()) {
            moments.add(p.adamM());
            moments.add(p.adamV());
        }
        Safetensors.loadInto(opt, moments);
        TrainerState state = TrainerState.read(outDir);
        List<String> lines = Files.isRegularFile(outDir.resolve(METRICS))
                ? Files.readAllLines(outDir.resolve(METRICS)) : List.of();
        Trainer t = new Trainer(model, cfg, backend, data, outDir, listener, state, lines);
        t.restoreGuideSwitches();
        return t;
    }

    private void restoreGuideSwitches() {
        for (LinearLayer l : model.structuredFfnLinears()) {
            if (l.guide() != null) model.scalars().data[l.switchSlot()] = 1f;
        }
    }

    public Gpt model() {
        return model;
    }

    public TrainConfig config() {
        return cfg;
    }

    public int step() {
        return step;
    }

    public double lastValLoss() {
        return lastValLoss;
    }

    private void buildPlans() {
        if (graph != null) {
            backend.release(graph.plan);
            backend.release(optimizer.zeroGrads);
            backend.release(optimizer.gradNorm);
            backend.release(optimizer.update);
            if (validation != null) backend.release(validation.graph().plan);
        }
        graph = new TrainingGraph(model, cfg.batchSize(), cfg.seqLen());
        optimizer = new OptimizerPlans(model.parameters(), model.scalars(), cfg);
        try {
            validation = hasValidation ? new Validation(model, dataDir, cfg.batchSize(), cfg.seqLen(), graph.buffers) : null;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        backend.prepare(graph.plan);
        backend.prepare(optimizer.zeroGrads);
        backend.prepare(optimizer.gradNorm);
        backend.prepare(optimizer.update);
        if (validation != null) backend.prepare(validation.graph().plan);
    }

    /** Runs to the end of the configured run. */
    public void run() throws IOException {
        runUntil(cfg.totalSteps());
    }

    /**
     * Runs until step {@code untilStep}, evaluating and saving on schedule and at the end of the
     * run; stopping earlier saves a checkpoint there, so the run can be resumed.
     */
    public void runUntil(int untilStep) throws IOException {
        int total = cfg.totalSteps();
        untilStep = Math.min(untilStep, total);
        listener.started(describe(), step, total);
        while (step < untilStep && !stopRequested) {
            trainStep();
            boolean last = step == total;
            if (cfg.evalEvery() > 0 && step % cfg.evalEvery() == 0 || last) evaluate();
            if (cfg.saveEvery() > 0 && step % cfg.saveEvery() == 0 || last || step == untilStep) save();
        }
        if (stopRequested && saveOnStop && lastSaved != step) {
            save();
        }
        if (stopRequested && step < untilStep) {
            listener.message("stopped on request at step " + step + (saveOnStop ? "; the run can be resumed (--resume)" : ""));
        }
        listener.finished();
    }

    private String describe() {
        return String.format(Locale.ROOT, "%s on %s: %d steps of %d tokens (%d x %d x %d)%s",
                model.method.structured() ? model.method.name().name().toLowerCase(Locale.ROOT) : "dense",
                backend.describe(), cfg.totalSteps(), cfg.tokensPerStep(), cfg.batchSize(), cfg.seqLen(), cfg.gradAccum(),
                cfg.selfGuided().enabled() ? String.format(Locale.ROOT, ", self-guided for %d steps (%s, %s%s)",
                        cfg.guidedSteps(), cfg.selfGuided().schedule().name().toLowerCase(Locale.ROOT),
                        cfg.selfGuided().mode().name().toLowerCase(Locale.ROOT),
                        cfg.selfGuided().reduceFlop() ? ", reduce_flop" : "") : "");
    }

    private void trainStep() {
        long t0 = System.nanoTime();
        int guided = cfg.guidedSteps();
        if (model.guided() && step >= guided) {
            model.dropGuides();
            buildPlans();
            listener.message("guided phase over at step " + step + ": guides dropped");
        }
        if (cfg.selfGuided().enabled() && cfg.selfGuided().mode() == TrainConfig.Mode.FIXEDFLOP && step == cfg.steps()) {
            trainData.seek(new ShardLoader.Position(0, 0));
            listener.message("fixedflop: repeating the first " + guided + " steps' data without the guide");
        }
        float[] s = model.scalars().data;
        double lr = Schedules.learningRate(cfg, step);
        double a = model.guided() ? Schedules.guideWeight(cfg.selfGuided().schedule(), guided, step) : 0;
        s[StepScalars.LR] = (float) lr;
        s[StepScalars.BIAS_CORRECTION1] = (float) (1 - Math.pow(cfg.beta1(), step + 1));
        s[StepScalars.BIAS_CORRECTION2] = (float) (1 - Math.pow(cfg.beta2(), step + 1));
        s[StepScalars.GUIDE_ALPHA] = (float) a;
        int rows = cfg.batchSize() * cfg.seqLen();
        s[StepScalars.LOSS_SCALE] = 1f / ((float) rows * cfg.gradAccum());

        backend.run(optimizer.zeroGrads);
        double lossSum = 0;
        double stepFlops = flopsPerToken * cfg.tokensPerStep();
        for (int micro = 0; micro < cfg.gradAccum(); micro++) {
            trainData.next(graph.tokens.data, graph.targets.data);
            for (LinearLayer l : model.structuredFfnLinears()) {
                if (l.guide() == null) continue;
                boolean on = !cfg.selfGuided().reduceFlop() || rng.nextDouble() < a;
                s[l.switchSlot()] = on ? 1f : 0f;
                if (on) stepFlops += 3.0 * 2.0 * l.structure().in() * l.structure().out() * rows;
            }
            backend.run(graph.plan);
            backend.toHost(graph.plan, graph.losses);
            lossSum += graph.lossSum();
        }
        double loss = lossSum / ((double) rows * cfg.gradAccum());
        if (!Double.isFinite(loss)) {
            throw new TrainingDiverged("loss is " + loss + " at step " + step + "; stopping. The last good checkpoint in "
                    + outDir + " is kept (step " + lastSavedStep() + "); lower the learning rate (now "
                    + String.format(Locale.ROOT, "%.3g", lr) + ") or check the data");
        }
        backend.run(optimizer.gradNorm);
        backend.toHost(optimizer.gradNorm, model.scalars());
        double norm = s[StepScalars.GRAD_NORM];
        if (!Double.isFinite(norm)) {
            throw new TrainingDiverged("gradient norm is " + norm + " at step " + step + " (loss " + loss
                    + "); stopping before the weights change. The last good checkpoint in " + outDir + " is kept");
        }
        backend.run(optimizer.update);
        step++;
        tokens += cfg.tokensPerStep();
        flops += stepFlops;
        double seconds = (System.nanoTime() - t0) / 1e9;
        elapsed += seconds;
        double tps = cfg.tokensPerStep() / seconds;
        ObjectNode m = JSON.createObjectNode();
        m.put("step", step);
        m.put("loss", loss);
        m.put("lr", lr);
        m.put("a", a);
        m.put("grad_norm", norm);
        m.put("tokens_per_s", tps);
        m.put("tokens", tokens);
        m.put("flops", flops);
        m.put("time", java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS).toString());
        m.put("elapsed_s", elapsed);
        metrics.add(m.toString());
        listener.step(new TrainListener.Step(step, cfg.totalSteps(), loss, lr, a, norm, tps, tokens, flops, model.guided()));
    }

    private int lastSaved = -1;
    private volatile boolean stopRequested;
    private volatile boolean saveOnStop = true;

    /**
     * Ends {@link #runUntil} at the end of the current step (safe to call from any thread, e.g. a
     * signal handler); with {@code save}, a checkpoint of that step is written first.
     */
    public void requestStop(boolean save) {
        saveOnStop = save;
        stopRequested = true;
    }

    /** Whether {@link #requestStop} ended the last {@link #runUntil} early. */
    public boolean stopRequested() {
        return stopRequested;
    }

    private String lastSavedStep() {
        return lastSaved < 0 ? "none yet" : Integer.toString(lastSaved);
    }

    /** Validation loss over the first eval_windows windows (all when 0); NaN without validation shards. */
    public double evaluate() {
        if (validation == null) return Double.NaN;
        Validation.Result r = validation.measure(backend, cfg.evalWindows());
        lastValLoss = r.loss();
        ObjectNode m = JSON.createObjectNode();
        m.put("step", step);
        m.put("val_loss", r.loss());
        m.put("val_ppl", r.perplexity());
        m.put("val_tokens", r.tokens());
        m.put("tokens", tokens);
        m.put("flops", flops);
        m.put("time", java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS).toString());
        m.put("elapsed_s", elapsed);
        metrics.add(m.toString());
        listener.evaluated(new TrainListener.Eval(step, r.loss(), r.perplexity(), r.tokens()));
        return r.loss();
    }

    /** Writes the checkpoint atomically: the previous one stays whole until this one is complete. */
    public void save() throws IOException {
        List<Object> all = new ArrayList<>();
        for (Parameter p : model.parameters()) {
            all.add(p.value);
            all.add(p.adamM());
            all.add(p.adamV());
        }
        backend.toHost(optimizer.update, all.toArray());
        ShardLoader.Position pos = trainData.position();
        TrainerState state = new TrainerState(step, tokens, flops, pos.epoch(), pos.position(), rng.state(), elapsed);
        ObjectNode extra = JSON.createObjectNode();
        extra.set("train", cfg.toJson());
        extra.put("data", dataDir.toAbsolutePath().normalize().toString());
        if (model.guided()) extra.put("guide_weight", model.scalars().data[StepScalars.GUIDE_ALPHA]);
        AtomicDirectory.write(outDir, dir -> {
            ModelCheckpoint.write(dir, model, extra);
            List<Tensor> moments = new ArrayList<>();
            for (Parameter p : model.parameters()) {
                moments.add(p.adamM());
                moments.add(p.adamV());
            }
            Safetensors.write(dir.resolve(OPTIMIZER), moments, java.util.Map.of("step", Integer.toString(step)));
            state.write(dir);
            Files.write(dir.resolve(METRICS), metrics);
            Path tok = dataDir.resolve(TokenizerInfo.FILE_NAME);
            if (Files.isRegularFile(tok)) Files.copy(tok, dir.resolve(TokenizerInfo.FILE_NAME));
        });
        lastSaved = step;
        listener.saved(step, outDir);
    }

    /** Training stopped on a non-finite loss or gradient; the last checkpoint is untouched. */
    public static final class TrainingDiverged extends IllegalStateException {
        public TrainingDiverged(String message) {
            super(message);
        }
    }
}
