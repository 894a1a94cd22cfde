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
import sffn.kernels.plan.Plan;
import sffn.nn.Gpt;
import sffn.nn.MemoryEstimate;
import sffn.nn.ModelStats;
import sffn.nn.Parameter;
import sffn.nn.TrainingGraph;
import sffn.nn.config.JsonFields;
import sffn.nn.io.AtomicDirectory;
import sffn.nn.io.IoErrors;
import sffn.nn.io.ModelCheckpoint;
import sffn.nn.io.Safetensors;
import sffn.nn.layers.LinearLayer;
import sffn.nn.tokenizer.TokenizerInfo;
import sffn.train.data.ShardLoader;
import sffn.train.data.Split;
import sffn.train.dist.Collective;
import sffn.train.dist.GradientExchange;
import sffn.train.dist.Parallelism;
import sffn.train.dist.ReplicaChecks;

/**
 * The training loop: micro-batches accumulated into AdamW steps under the LR schedule, the
 * self-guided phase (the guide weight decays to zero, then the guides are dropped; under
 * fixedflop the guided steps' data is trained on again at the end without them), evaluation,
 * atomic checkpoints, and {@code metrics.jsonl}. Every step is a fixed sequence of plans on the
 * backend, so a run stopped and resumed from a checkpoint ends with the same bits as one that
 * never stopped.
 *
 * <p>Data-parallel over {@link Parallelism#comm()}'s N ranks: each rank trains on its own slice of
 * the windows (global batch = batch x N x grad_accum), the gradients are summed over the ranks
 * between backward and the optimizer ({@link GradientExchange}), and the loss, gradient norm and
 * evaluation are global. Every rank holds the same weights; rank 0 alone writes checkpoints and
 * {@code metrics.jsonl}.
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
    private final Parallelism par;
    private final Collective comm;

    private TrainingGraph graph;
    private Validation validation;
    private OptimizerPlans optimizer;
    /** Whether every gradient is zero: a step of the current plans has completed its update. */
    private boolean gradsZero;
    private GradientExchange exchange;
    private int step;
    private long tokens;
    private double flops;
    private double elapsed;
    private double lastValLoss = Double.NaN;

    private Trainer(Gpt model, TrainConfig cfg, Backend backend, Path dataDir, Path outDir, TrainListener listener,
                    TrainerState state, List<String> metricsSoFar, Parallelism par) throws IOException {
        this.model = model;
        this.par = par;
        this.comm = par.comm();
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
                ShardLoader.Options.DEFAULT.withSeed(cfg.seed()).withRank(comm.rank(), comm.size()));
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
            if (state.worldSize() != comm.size()) {
                listener.message(String.format(Locale.ROOT, "resuming a run saved by %d rank(s) on %d: the global batch goes"
                        + " from %d to %d sequences per step; the data position, optimizer state and schedule carry over,"
                        + " but the run is not bit-exact with one that kept %d rank(s)", state.worldSize(), comm.size(),
                        (long) state.worldSize() * cfg.batchSize() * cfg.gradAccum(),
                        (long) comm.size() * cfg.batchSize() * cfg.gradAccum(), state.worldSize()));
            }
        }
        metrics.addAll(metricsSoFar);
        if (par.distributed()) {
            ReplicaChecks.sameConfig(comm, resolvedConfig());
        }
        buildPlans();
        if (par.distributed()) ReplicaChecks.sameWeights(comm, model.parameters(), step);
    }

    /** What every rank must agree on: model, method, training options, ranks, the data's size, and where it resumes. */
    private String resolvedConfig() {
        ObjectNode n = JSON.createObjectNode();
        n.set("model", model.config.toJson());
        n.set("method", model.method.toJson());
        n.set("train", cfg.toJson());
        n.put("ranks", comm.size());
        n.put("zero", par.zeroStage());
        n.put("check_replicas", par.checkReplicasEvery());
        n.put("bucket_bytes", par.bucketBytes());
        n.put("step", step);
        n.put("guided", model.guided());
        n.put("train_windows", trainData.windowCount());
        n.put("train_tokens", trainData.tokenCount());
        return n.toString();
    }

    /** A new run: the model is initialised from the run seed (with guides when self-guided). */
    public static Trainer start(Gpt model, TrainConfig cfg, Backend backend, Path dataDir, Path outDir,
                                TrainListener listener) throws IOException {
        return start(model, cfg, backend, dataDir, outDir, listener, Parallelism.single());
    }

    /** A new run over the ranks of {@code par}; every rank initialises the same model from the seed. */
    public static Trainer start(Gpt model, TrainConfig cfg, Backend backend, Path dataDir, Path outDir,
                                TrainListener listener, Parallelism par) throws IOException {
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
        return new Trainer(model, cfg, backend, dataDir, outDir, listener, null, List.of(), par);
    }

    /** Continues the run saved in {@code outDir}; {@code dataDir} null means the one it was trained on. */
    public static Trainer resume(Path outDir, Backend backend, Path dataDir, TrainListener listener) throws IOException {
        return resume(outDir, backend, dataDir, listener, Parallelism.single(), c -> c);
    }

    /** Continues the run saved in {@code outDir} over the ranks of {@code par} (every rank reads the checkpoint). */
    public static Trainer resume(Path outDir, Backend backend, Path dataDir, TrainListener listener, Parallelism par)
            throws IOException {
        return resume(outDir, backend, dataDir, listener, par, c -> c);
    }

    /** The training config saved in a checkpoint. */
    public static TrainConfig savedConfig(Path outDir) throws IOException {
        JsonNode cfgJson = ModelCheckpoint.readConfig(outDir);
        Path cfgFile = outDir.resolve(ModelCheckpoint.CONFIG);
        if (!cfgJson.has("train")) throw new IllegalArgumentException(cfgFile + ": field 'train' is missing; not a training checkpoint");
        return TrainConfig.from(new JsonFields(cfgFile + " (train)", cfgJson.get("train")));
    }

    /**
     * As {@link #resume(Path, Backend, Path, TrainListener, Parallelism)}, with the saved training config changed by
     * {@code change}.
     */
    public static Trainer resume(Path outDir, Backend backend, Path dataDir, TrainListener listener, Parallelism par,
                                 java.util.function.UnaryOperator<TrainConfig> change) throws IOException {
        JsonNode cfgJson = ModelCheckpoint.readConfig(outDir);
        Path cfgFile = outDir.resolve(ModelCheckpoint.CONFIG);
        TrainConfig cfg = change.apply(savedConfig(outDir));
        Path data = dataDir != null ? dataDir : Path.of(cfgJson.path("data").asText(""));
        if (dataDir == null && !cfgJson.has("data")) {
            throw new IllegalArgumentException(cfgFile + ": field 'data' is missing; pass --data");
        }
        sffn.train.data.TokenizerMatch.require(outDir, data);
        MemoryEstimate.training(ModelCheckpoint.modelConfig(outDir, cfgJson), ModelCheckpoint.methodConfig(outDir, cfgJson),
                cfg.selfGuided().enabled(), cfg.batchSize(), cfg.seqLen())
                .require("resuming " + outDir + " (batch " + cfg.batchSize() + " x " + cfg.seqLen() + ")",
                        "the batch size or sequence length");
        Gpt model = ModelCheckpoint.read(outDir);
        Path opt = outDir.resolve(OPTIMIZER);
        if (!Files.isRegularFile(opt)) throw new IllegalArgumentException(opt + ": missing; cannot resume the optimizer");
        List<Tensor> moments = new ArrayList<>();
        for (Parameter p : model.parameters()) {
            moments.add(p.adamM());
            moments.add(p.adamV());
        }
        Safetensors.loadInto(opt, moments);
        ModelCheckpoint.requireFinite(opt, moments);
        TrainerState state = TrainerState.read(outDir);
        if (state.step() > cfg.totalSteps()) {
            throw new IllegalArgumentException(outDir.resolve(TrainerState.FILE) + ": field 'step' is " + state.step()
                    + ", beyond the run's " + cfg.totalSteps() + " steps (config.json); the files do not belong together");
        }
        List<String> lines = Files.isRegularFile(outDir.resolve(METRICS))
                ? Files.readAllLines(outDir.resolve(METRICS)) : List.of();
        Trainer t = new Trainer(model, cfg, backend, data, outDir, listener, state, lines, par);
        t.lastSaved = state.step();
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
            backend.release(optimizer.zeroOthers);
            backend.release(optimizer.gradNorm);
            backend.release(optimizer.update);
            if (validation != null) backend.release(validation.graph().plan);
            if (exchange != null) exchange.close();
        }
        graph = new TrainingGraph(model, cfg.batchSize(), cfg.seqLen());
        exchange = par.distributed()
                ? new GradientExchange(comm, backend, graph.plan, model.parameters(), par.bucketBytes()) : null;
        optimizer = par.zeroStage() == 1 && exchange != null
                ? new OptimizerPlans(model.parameters(), exchange.owned(), model.scalars(), cfg)
                : new OptimizerPlans(model.parameters(), model.scalars(), cfg);
        try {
            validation = hasValidation ? new Validation(model, dataDir, cfg.batchSize(), cfg.seqLen(), graph.buffers) : null;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        backend.prepare(graph.plan);
        backend.prepare(optimizer.zeroGrads);
        backend.prepare(optimizer.zeroOthers);
        backend.prepare(optimizer.gradNorm);
        gradsZero = false;
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
        if (!hasValidation) listener.message("note: " + dataDir + " has no validation shards; the run is not evaluated");
        while (step < untilStep && !stopNow()) {
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

    /** Tokens of one optimizer step over all ranks. */
    private long globalTokensPerStep() {
        return cfg.tokensPerStep() * comm.size();
    }

    private String describe() {
        String ranks = par.distributed() ? String.format(Locale.ROOT, " per rank, on %s, %s", comm.describe(),
                par.zeroStage() == 1 ? "ZeRO-1" : exchange.buckets() + " all-reduce buckets") : "";
        return String.format(Locale.ROOT, "%s on %s: %d steps of %d tokens (%d x %d x %d%s)%s",
                model.method.structured() ? model.method.name().name().toLowerCase(Locale.ROOT) : "dense",
                backend.describe(), cfg.totalSteps(), globalTokensPerStep(), cfg.batchSize(), cfg.seqLen(), cfg.gradAccum(), ranks,
                cfg.selfGuided().enabled() ? String.format(Locale.ROOT, ", self-guided for %d steps (%s, %s%s)",
                        cfg.guidedSteps(), cfg.selfGuided().schedule().name().toLowerCase(Locale.ROOT),
                        cfg.selfGuided().mode().name().toLowerCase(Locale.ROOT),
                        cfg.selfGuided().reduceFlop() ? ", reduce_flop" : "") : "");
    }

    private void trainStep() {
        long t0 = System.nanoTime();
        int guided = cfg.guidedSteps();
        if (model.guided() && step >= guided) {
            // ZeRO-1 cuts the shards anew without the guides: every rank first gets all moments, whatever it will own.
            if (exchange != null && par.zeroStage() == 1) exchange.gatherMoments(true);
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
        // Each rank's gradients are pre-divided by the global target count, so their sum over the ranks is the mean.
        s[StepScalars.LOSS_SCALE] = 1f / ((float) rows * cfg.gradAccum() * comm.size());

        // After a whole step of these plans, AdamW has left the gradients it read zero.
        Plan zeroing = gradsZero ? optimizer.zeroOthers : optimizer.zeroGrads;
        if (zeroing.size() > 0) backend.run(zeroing);
        gradsZero = false;
        double lossSum = 0;
        double stepFlops = flopsPerToken * globalTokensPerStep();
        for (int micro = 0; micro < cfg.gradAccum(); micro++) {
            trainData.next(graph.tokens.data, graph.targets.data);
            for (LinearLayer l : model.structuredFfnLinears()) {
                if (l.guide() == null) continue;
                boolean on = !cfg.selfGuided().reduceFlop() || rng.nextDouble() < a;
                s[l.switchSlot()] = on ? 1f : 0f;
                if (on) stepFlops += 3.0 * 2.0 * l.structure().in() * l.structure().out() * rows * comm.size();
            }
            if (exchange != null && par.zeroStage() == 0 && micro == cfg.gradAccum() - 1) {
                backend.run(graph.plan, exchange::sectionDone);
            } else {
                backend.run(graph.plan);
            }
            backend.toHost(graph.plan, graph.losses);
            lossSum += graph.lossSum();
        }
        if (exchange != null) {
            if (par.zeroStage() == 1) exchange.reduceScatter();
            else exchange.finish();
        }
        double loss = comm.allReduceSum(lossSum) / ((double) rows * cfg.gradAccum() * comm.size());
        if (!Double.isFinite(loss)) {
            throw new TrainingDiverged("loss is " + loss + " at step " + (step + 1) + "; stopping. " + keptCheckpoint()
                    + "; lower the learning rate (now " + String.format(Locale.ROOT, "%.3g", lr) + ") or check the data");
        }
        if (exchange != null && par.zeroStage() == 1) {
            // Each rank holds only its shard of the summed gradients: the norm's squares are summed over the ranks.
            double squares = comm.allReduceSum(exchange.ownedGradSquares());
            sffn.kernels.GradNorm.finish(new float[] {(float) squares}, s, 1, (float) cfg.gradClip());
            backend.toDevice(optimizer.update, model.scalars());
        } else {
            backend.run(optimizer.gradNorm);
            backend.toHost(optimizer.gradNorm, model.scalars());
        }
        double norm = s[StepScalars.GRAD_NORM];
        if (!Double.isFinite(norm)) {
            throw new TrainingDiverged("gradient norm is " + norm + " at step " + (step + 1) + " (loss " + loss
                    + "); stopping before the weights change. " + keptCheckpoint());
        }
        backend.run(optimizer.update);
        gradsZero = true;
        if (exchange != null && par.zeroStage() == 1) exchange.allGatherWeights();
        step++;
        tokens += globalTokensPerStep();
        flops += stepFlops;
        if (par.distributed() && par.checkReplicasEvery() > 0 && step % par.checkReplicasEvery() == 0) {
            backend.toHost(optimizer.update, model.parameters().stream().map(p -> p.value).toArray());
            ReplicaChecks.sameWeights(comm, model.parameters(), step);
        }
        double[] commSeconds = exchange != null ? exchange.takeSeconds() : new double[2];
        double seconds = (System.nanoTime() - t0) / 1e9;
        elapsed += seconds;
        double tps = globalTokensPerStep() / seconds;
        ObjectNode m = JSON.createObjectNode();
        m.put("step", step);
        m.put("loss", loss);
        m.put("lr", lr);
        m.put("a", a);
        m.put("grad_norm", norm);
        m.put("tokens_per_s", tps);
        m.put("tokens", tokens);
        m.put("flops", flops);
        if (par.distributed()) {
            m.put("comm_wait_s", commSeconds[0]);
            m.put("comm_copy_s", commSeconds[1]);
            m.put("step_s", seconds);
        }
        m.put("time", java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS).toString());
        m.put("elapsed_s", elapsed);
        metrics.add(m.toString());
        listener.step(new TrainListener.Step(step, cfg.totalSteps(), loss, lr, a, norm, tps, tokens, flops, model.guided(),
                commSeconds[0], seconds));
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

    /** Whether to stop now: under mpirun, when any rank was asked to (a stop that one rank alone took would hang the others). */
    private boolean stopNow() {
        boolean any = par.distributed() ? comm.allReduceSum(stopRequested ? 1 : 0) > 0 : stopRequested;
        if (any) stopRequested = true; // every rank then saves together
        return any;
    }

    /** Whether {@link #requestStop} ended the last {@link #runUntil} early. */
    public boolean stopRequested() {
        return stopRequested;
    }

    /** What is on disk after a stop for divergence; never claims a checkpoint that was not written. */
    private String keptCheckpoint() {
        return lastSaved < 0 ? "No checkpoint was saved in " + outDir + " (none before this step)"
                : "The last good checkpoint in " + outDir + " (step " + lastSaved + ") is kept";
    }

    /** Validation loss over the first eval_windows windows (all when 0); NaN without validation shards. */
    public double evaluate() {
        if (validation == null) return Double.NaN;
        listener.evaluating(step);
        Validation.Result r = validation.measure(backend, cfg.evalWindows(), comm);
        if (!Double.isFinite(r.loss())) {
            throw new TrainingDiverged("validation loss is " + r.loss() + " after step " + step + "; stopping without"
                    + " saving. " + keptCheckpoint() + "; lower the learning rate or check the data");
        }
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
        listener.saving(step);
        if (exchange != null && par.zeroStage() == 1) exchange.gatherMoments(false);
        if (comm.rank() != 0) {
            lastSaved = step;
            return;
        }
        List<Object> all = new ArrayList<>();
        for (Parameter p : model.parameters()) {
            all.add(p.value);
            all.add(p.adamM());
            all.add(p.adamV());
        }
        backend.toHost(optimizer.update, all.toArray());
        for (Parameter p : model.parameters()) {
            String bad = nonFinite(p.value, "weights");
            if (bad == null) bad = nonFinite(p.adamM(), "first moments");
            if (bad == null) bad = nonFinite(p.adamV(), "second moments");
            if (bad != null) {
                throw new TrainingDiverged("after step " + step + " the " + bad + "; stopping without saving. "
                        + keptCheckpoint() + "; lower the learning rate");
            }
        }
        // Finite weights can still be large enough to overflow the forward: the checkpoint must evaluate.
        double probe = validation == null ? 0 : validation.firstBatch(backend).loss();
        if (!Double.isFinite(probe)) {
            throw new TrainingDiverged("after step " + step + " the weights give a validation loss of " + probe
                    + "; stopping without saving. " + keptCheckpoint() + "; lower the learning rate");
        }
        ShardLoader.Position pos = trainData.position();
        TrainerState state = new TrainerState(step, tokens, flops, pos.epoch(), pos.position(), rng.state(), elapsed,
                comm.size());
        ObjectNode extra = JSON.createObjectNode();
        extra.set("train", cfg.toJson());
        extra.put("data", dataDir.toAbsolutePath().normalize().toString());
        if (model.guided()) extra.put("guide_weight", model.scalars().data[StepScalars.GUIDE_ALPHA]);
        try {
            AtomicDirectory.write(outDir, OutputDirectory::replaceable, dir -> {
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
        } catch (IOException e) {
            throw new IOException("could not save the checkpoint of step " + step + " to " + outDir + ": "
                    + IoErrors.describe(e) + ". " + keptCheckpoint(), e);
        }
        lastSaved = step;
        listener.saved(step, outDir);
    }

    /** "tensor's kind hold x at element i", or null when every element is finite. */
    private static String nonFinite(Tensor t, String kind) {
        float[] d = t.data;
        for (int i = 0; i < d.length; i++) {
            if (!Float.isFinite(d[i])) return kind + " of " + t.name + " hold " + d[i] + " at element " + i;
        }
        return null;
    }

    /** Training stopped on a non-finite loss or gradient; the last checkpoint is untouched. */
    public static final class TrainingDiverged extends IllegalStateException {
        public TrainingDiverged(String message) {
            super(message);
        }
    }
}
