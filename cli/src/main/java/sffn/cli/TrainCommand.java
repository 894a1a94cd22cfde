package sffn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import sffn.kernels.backend.Backend;
import sffn.kernels.backend.CpuBackend;
import sffn.nn.Gpt;
import sffn.nn.MemoryEstimate;
import sffn.nn.ModelStats;
import sffn.nn.config.MethodConfig;
import sffn.nn.config.ModelConfig;
import sffn.nn.io.ModelCheckpoint;
import sffn.train.FlopBudget;
import sffn.train.OutputDirectory;
import sffn.train.TrainConfig;
import sffn.train.TrainListener;
import sffn.train.Trainer;
import sffn.train.dist.Collective;
import sffn.train.dist.Parallelism;

/** {@code sffn train}: trains a model on token shards, with self-guided training on request. */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Train a model on token shards (see 'sffn prepare'); checkpoints are written atomically to --out.")
public final class TrainCommand implements Callable<Integer> {

    @Option(names = "--config", paramLabel = "<model.json>", description = "Model config (JSON). Not needed with --resume.")
    Path config;

    @Option(names = "--method", paramLabel = "<method.json>", description = "FFN method config (JSON); dense when omitted.")
    Path method;

    @Option(names = "--train-config", paramLabel = "<train.json>", description = "Training config (JSON); options below override it.")
    Path trainConfig;

    @Option(names = "--data", paramLabel = "<dir>", description = "Directory of token shards. With --resume, defaults to the run's.")
    Path data;

    @Option(names = "--out", required = true, paramLabel = "<dir>", description = "Checkpoint directory.")
    Path out;

    @Option(names = "--resume", description = "Continue the run saved in --out.")
    boolean resume;

    // Defaults (in the descriptions) are those of a training config that leaves the field out; see configs/README.md.
    @Option(names = "--steps", description = "Optimizer steps of the base run (default 1000). With --resume: extends or"
            + " shortens the run.") Integer steps;
    @Option(names = "--tokens", description = "Training tokens of the base run, e.g. 25.5e9 (instead of --steps).") Long tokens;
    @Option(names = "--batch-size", description = "Sequences per micro-batch (default 16).") Integer batchSize;
    @Option(names = "--seq-len", description = "Tokens per sequence (default 256).") Integer seqLen;
    @Option(names = "--grad-accum", description = "Micro-batches per optimizer step (default 1).") Integer gradAccum;
    @Option(names = "--lr", description = "Peak learning rate (default 6e-4).") Double lr;
    @Option(names = "--min-lr-ratio", description = "Final learning rate over the peak, cosine decay (default 0.1).") Double minLrRatio;
    @Option(names = "--warmup-ratio", description = "Warmup steps over all steps (default 0.1).") Double warmupRatio;
    @Option(names = "--beta1", description = "AdamW beta1 (default 0.9).") Double beta1;
    @Option(names = "--beta2", description = "AdamW beta2 (default 0.999).") Double beta2;
    @Option(names = "--eps", description = "AdamW epsilon (default 1e-8).") Double eps;
    @Option(names = "--weight-decay", description = "AdamW weight decay (default 0.1).") Double weightDecay;
    @Option(names = "--grad-clip", description = "Max global gradient norm (0: off; default 1.0).") Double gradClip;
    @Option(names = "--seed", description = "Run seed (init, data order, guide switches; default 1234).") Long seed;
    @Option(names = "--eval-every", description = "Steps between evaluations (0: only at the end; default "
            + TrainConfig.DEFAULT_EVAL_EVERY + "). A run also evaluates at its end.") Integer evalEvery;
    @Option(names = "--eval-windows", description = "Validation windows per evaluation (0: all; default 0).") Integer evalWindows;
    @Option(names = "--save-every", description = "Steps between checkpoints (0: only at the end; default "
            + TrainConfig.DEFAULT_SAVE_EVERY + "). A run also saves at its end, and Ctrl-C saves"
            + " one at the end of the current step either way.") Integer saveEvery;
    @Option(names = "--self-guided", description = "Train with a dense guide that decays to zero (default off).") Boolean selfGuided;
    @Option(names = "--guide-ratio", description = "Guided steps over base steps (max_step_ratio; default 0.5).") Double guideRatio;
    @Option(names = "--guide-schedule", description = "cosine or linear (default cosine).") TrainConfig.Schedule guideSchedule;
    @Option(names = "--guide-mode", description = "fixedstep or fixedflop (default fixedstep).") TrainConfig.Mode guideMode;
    @Option(names = "--reduce-flop", description = "Skip each guide with probability 1 - a (default off).") Boolean reduceFlop;
    @Option(names = "--flop-budget", paramLabel = "<flops>", description = "Training FLOPs of the whole run, e.g. 3e15:"
            + " sets --steps; with --guide-mode fixedflop it keeps --steps as the base run and sets --guide-ratio instead.")
    Double flopBudget;
    @Mixin
    BackendOptions backendOptions = new BackendOptions();

    @Option(names = "--yardstick", description = "Time OpenBLAS sgemm on the same threads between the training steps (every"
            + " 2 s, outside the steps' timing; after training when several processes train) and print the run's FLOP"
            + " utilisation: model FLOPs per second over OpenBLAS's, window by window.")
    boolean yardstick;
    @Option(names = "--stop-at-step", description = "Stop this invocation after this step (the run can be resumed).")
    Integer stopAt;
    @Option(names = "--tensorboard", paramLabel = "<dir>", description = "Also write the losses, LR and throughput as"
            + " TensorBoard event files into <dir> (tensorboard --logdir <dir>).")
    Path tensorboard;
    @Option(names = "--dry-run", description = "Print the resolved run (model, method, training, data, FLOPs, memory), time"
            + " the weight initialisation and a few steps, estimate the run's time, and exit without writing --out.")
    boolean dryRun;
    @Option(names = "--dry-run-steps", paramLabel = "<n>", description = "Steps timed by --dry-run (default 3; 0: none).")
    int dryRunSteps = 3;

    @Option(names = "--zero", paramLabel = "0|1", description = "Under mpirun: 0 (default) every rank keeps the whole"
            + " optimizer state; 1 (ZeRO-1) each rank keeps and updates its shard, then the weights are all-gathered.")
    int zero;
    @Option(names = "--check-replicas", paramLabel = "<K>", description = "Under mpirun: compare a hash of the weights"
            + " across ranks every K steps and stop on any difference (0: only at the start).")
    int checkReplicas;
    @Option(names = "--bucket-mb", paramLabel = "<MiB>", description = "Under mpirun: gradient all-reduce bucket size"
            + " (default 4); a bucket's all-reduce starts as soon as backward has finished its gradients.")
    double bucketMb = Parallelism.DEFAULT_BUCKET_BYTES / (double) (1 << 20);
    /** For tests: {@code <rank>:<step>} makes that rank throw after that step. */
    @Option(names = "--inject-failure", hidden = true)
    String injectFailure;

    @Override
    public Integer call() throws Exception {
        backendOptions.applyThreads(); // --threads sizes the kernel pool before anything starts it
        Collective comm = Collective.fromEnvironment();
        try {
            int code = train(comm);
            comm.close();
            return code;
        } catch (Throwable e) {
            if (comm.size() > 1) {
                // One rank cannot go on: say which, then end every rank now rather than leave them waiting in a collective.
                boolean user = e instanceof IllegalArgumentException || e instanceof IllegalStateException
                        || e instanceof java.io.IOException || e instanceof java.io.UncheckedIOException;
                System.err.println("sffn train: rank " + comm.rank() + " of " + comm.size() + " failed, stopping the job: "
                        + e.getMessage());
                if (!user) e.printStackTrace();
                comm.abort(user ? 2 : 1);
            }
            throw e;
        }
    }

    private int train(Collective comm) throws Exception {
        boolean leader = comm.rank() == 0;
        PrintStream say = leader ? System.out : new PrintStream(OutputStream.nullOutputStream());
        ConsoleTrainListener console = new ConsoleTrainListener(say);
        TensorBoardListener board = tensorboard == null || dryRun || !leader ? null : new TensorBoardListener(tensorboard, console);
        TrainListener listener = withInjectedFailure(leader ? (board == null ? console : board) : TrainListener.SILENT,
                comm.rank());
        Parallelism par = new Parallelism(comm, zero, checkReplicas, (long) (bucketMb * (1 << 20)));
        if (comm.size() > 1 && "tornado".equals(backendOptions.backend) && backendOptions.device == null) {
            backendOptions.device = "0:" + localRank();
        }
        if (stopAt != null && stopAt < 1) {
            throw new IllegalArgumentException("--stop-at-step must be at least 1, got " + stopAt);
        }
        if (!resume && (config == null || data == null)) {
            throw new IllegalArgumentException("--config and --data are required for a new run (or pass --resume)");
        }
        // Everything about --out is settled (and locked) before any training time is spent; rank 0 alone writes,
        // so it alone claims the directory, and the other ranks read it only once a crashed save is repaired.
        // A dry run writes nothing.
        try (OutputDirectory dir = leader && !dryRun ? OutputDirectory.claim(out, data, resume) : null;
             Backend backend = backendOptions.create(); AutoCloseable closeBoard = board) {
            if (!dryRun) listener = profiledSteps(listener, backend, say); // a dry run times its own steps
            // One process: the yardstick between the steps (on several, rank 0's calls would take cores from the others).
            YardstickWindows windows = yardstick && !dryRun && comm.size() == 1 ? new YardstickWindows(listener) : null;
            if (windows != null) listener = windows;
            comm.barrier();
            Path ckpt = dir != null ? dir.path() : out;
            Trainer trainer;
            if (resume) {
                if (config != null || method != null || trainConfig != null) {
                    say.println("note: --resume continues with the configs saved in " + out
                            + "; --config/--method/--train-config are ignored");
                }
                if (data == null && dir != null) { // the run's own data, recorded in the checkpoint, must not overlap it either
                    JsonNode saved = ModelCheckpoint.readConfig(ckpt);
                    if (saved.hasNonNull("data")) dir.checkData(Path.of(saved.get("data").asText()));
                }
                TrainConfig saved = Trainer.savedConfig(ckpt);
                TrainConfig requested = overrides(saved);
                if (flopBudget != null) {
                    JsonNode json = ModelCheckpoint.readConfig(ckpt);
                    requested = FlopBudget.fit(requested, ModelCheckpoint.modelConfig(ckpt, json),
                            ModelCheckpoint.methodConfig(ckpt, json), flopBudget, say::println);
                }
                sffn.train.RunChange.Result change = sffn.train.RunChange.apply(saved, requested,
                        sffn.train.TrainerState.read(ckpt).step(), guideRatio != null);
                change.lines().forEach(say::println);
                trainer = Trainer.resume(ckpt, backend, data, listener, par, c -> change.config());
            } else {
                ModelConfig m = ModelConfig.read(config);
                MethodConfig f = method == null ? MethodConfig.DENSE : MethodConfig.read(method);
                f.checkAgainst(m, method == null ? "method" : method.toString());
                TrainConfig c = overrides(trainConfig == null ? TrainConfig.defaults() : TrainConfig.read(trainConfig));
                if (flopBudget != null) c = FlopBudget.fit(c, m, f, flopBudget, say::println);
                if (c.seqLen() > m.maxPositionEmbeddings()) {
                    throw new IllegalArgumentException("seq_len " + c.seqLen() + " exceeds the model's max_position_embeddings "
                            + m.maxPositionEmbeddings() + "; lower --seq-len");
                }
                sffn.train.DataCheck.require(data, m, c);
                if (dryRun) {
                    return DryRun.run(m, f, c, data, backend, dryRunSteps, say);
                }
                MemoryEstimate.training(m, f, c.selfGuided().enabled(), c.batchSize(), c.seqLen())
                        .require("training batch " + c.batchSize() + " x " + c.seqLen(), "--batch-size or --seq-len");
                Gpt model = InitProgressLine.init(new Gpt(m, f), c.seed(), say);
                if (dir != null) dir.checkSpace(checkpointBytes(model));
                trainer = Trainer.start(model, c, backend, data, ckpt, listener, par);
            }
            if (stopAt != null && stopAt > trainer.config().totalSteps()) {
                say.println("note: --stop-at-step " + stopAt + " is past the run's " + trainer.config().totalSteps()
                        + " steps; the run ends at step " + trainer.config().totalSteps());
            }
            try (StopOnSignal stop = StopOnSignal.install(trainer, System.err)) {
                trainer.runUntil(stopAt != null ? stopAt : Integer.MAX_VALUE);
            }
            if (leader) summary(trainer, console, windows);
        }
        return 0;
    }

    /** The node-local rank that picks this rank's GPU: Open MPI's, MPICH's or Slurm's variable, else 0. */
    private static int localRank() {
        for (String v : new String[] {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"}) {
            String s = System.getenv(v);
            if (s != null && s.matches("\\d+")) return Integer.parseInt(s);
        }
        return 0;
    }

    /**
     * With {@code --profile} on the CPU, the kernel times count the training steps the throughput
     * counts (after the first {@link ConsoleTrainListener#WARM_UP_STEPS} of this invocation, whose
     * kernels still run interpreted, many times slower), and neither evaluations nor the checks
     * before a checkpoint: the table shows where a training step spends its time. TornadoVM's
     * profile counts every launch as before.
     */
    private static TrainListener profiledSteps(TrainListener inner, Backend backend, PrintStream say) {
        if (!(backend instanceof CpuBackend cpu) || !cpu.profiling()) return inner;
        cpu.recording(false);
        cpu.profileScope("training steps after the first " + ConsoleTrainListener.WARM_UP_STEPS
                + " of this invocation, without evaluations and checkpoints");
        return new TrainListener.Forwarding(inner) {
            private int steps;

            @Override
            public void step(Step s) {
                next.step(s);
                if (++steps == ConsoleTrainListener.WARM_UP_STEPS) cpu.recording(true);
            }

            @Override
            public void evaluating(int step) {
                cpu.recording(false);
                next.evaluating(step);
            }

            @Override
            public void evaluated(Eval e) {
                next.evaluated(e);
                cpu.recording(steps >= ConsoleTrainListener.WARM_UP_STEPS);
            }

            @Override
            public void saving(int step) {
                cpu.recording(false);
                next.saving(step);
            }

            @Override
            public void saved(int step, java.nio.file.Path dir) {
                next.saved(step, dir);
                cpu.recording(steps >= ConsoleTrainListener.WARM_UP_STEPS);
            }

            @Override
            public void finished() {
                next.finished();
                cpu.recording(false);
                if (steps <= ConsoleTrainListener.WARM_UP_STEPS) {
                    say.println("--profile: the kernel times count the steps after the first "
                            + ConsoleTrainListener.WARM_UP_STEPS + " of a run (JIT warm-up); this one ran " + steps
                            + ", so there is nothing to show; run more steps");
                }
            }
        };
    }

    private TrainListener withInjectedFailure(TrainListener inner, int rank) {
        if (injectFailure == null) return inner;
        String[] parts = injectFailure.split(":");
        int failRank = Integer.parseInt(parts[0]);
        int failStep = Integer.parseInt(parts[1]);
        return new TrainListener.Forwarding(inner) {
            @Override
            public void step(Step s) {
                next.step(s);
                if (rank == failRank && s.step() == failStep) {
                    throw new IllegalStateException("injected failure (--inject-failure " + injectFailure + ")");
                }
            }
        };
    }

    /** Bytes of a checkpoint of {@code model}: weights and two AdamW moments, as float32. */
    private static long checkpointBytes(Gpt model) {
        long n = 0;
        for (sffn.nn.Parameter p : model.parameters()) n += 3L * 4 * p.value.size();
        return n;
    }

    private TrainConfig overrides(TrainConfig base) {
        return base.with(b -> {
            if (batchSize != null) b.batchSize = batchSize;
            if (seqLen != null) b.seqLen = seqLen;
            if (gradAccum != null) b.gradAccum = gradAccum;
            if (steps != null && tokens != null) throw new IllegalArgumentException("give --steps or --tokens, not both");
            if (steps != null) b.steps = steps;
            if (tokens != null) {
                b.steps = TrainConfig.stepsForTokens(tokens, (long) b.batchSize * b.seqLen * b.gradAccum, "--tokens");
            }
            if (lr != null) b.lr = lr;
            if (minLrRatio != null) b.minLrRatio = minLrRatio;
            if (beta1 != null) b.beta1 = beta1;
            if (beta2 != null) b.beta2 = beta2;
            if (eps != null) b.eps = eps;
            if (warmupRatio != null) b.warmupRatio = warmupRatio;
            if (weightDecay != null) b.weightDecay = weightDecay;
            if (gradClip != null) b.gradClip = gradClip;
            if (seed != null) b.seed = seed;
            if (evalEvery != null) b.evalEvery = evalEvery;
            if (evalWindows != null) b.evalWindows = evalWindows;
            if (saveEvery != null) b.saveEvery = saveEvery;
            TrainConfig.SelfGuided g = b.selfGuided;
            if (guideRatio != null && !(guideRatio > 0 && guideRatio <= 1)) {
                throw new IllegalArgumentException("--guide-ratio must be in (0, 1] (guided steps over base steps), got " + guideRatio);
            }
            if (Boolean.FALSE.equals(selfGuided) && (guideRatio != null || guideSchedule != null || guideMode != null
                    || reduceFlop != null)) {
                System.out.println("warning: --guide-ratio, --guide-schedule, --guide-mode and --reduce-flop do not apply"
                        + " with --self-guided=false; they are ignored");
            }
            if (selfGuided != null || guideRatio != null || guideSchedule != null || guideMode != null || reduceFlop != null) {
                g = new TrainConfig.SelfGuided(selfGuided != null ? selfGuided : true,
                        guideRatio != null ? guideRatio : g.maxStepRatio(),
                        guideSchedule != null ? guideSchedule : g.schedule(),
                        guideMode != null ? guideMode : g.mode(),
                        reduceFlop != null ? reduceFlop : g.reduceFlop());
            }
            b.selfGuided = g;
            return b;
        });
    }

    private void summary(Trainer t, ConsoleTrainListener console, YardstickWindows windows) {
        TrainConfig c = t.config();
        ModelStats s = ModelStats.of(t.model().config, t.model().method, c.seqLen());
        double tps = console.meanTokensPerSecond();
        System.out.printf(Locale.ROOT, "done: step %d of %d", t.step(), c.totalSteps());
        if (!Double.isNaN(t.lastValLoss())) {
            System.out.printf(Locale.ROOT, ", val loss %.4f, val ppl %.3f", t.lastValLoss(), Math.exp(t.lastValLoss()));
        }
        System.out.println();
        double fps = console.flopsPerSecond();
        if (!Double.isNaN(tps)) {
            System.out.printf(Locale.ROOT, "throughput: %,.0f tokens/s, %.1f GFLOP/s of training FLOPs (%.3g per token without"
                    + " the guide; the guide's counted while it runs)%n", tps, fps / 1e9, s.trainingFlops(1));
            if (console.commShare() > 0) {
                System.out.printf(Locale.ROOT, "communication: %.1f%% of the step time waiting on the gradient exchange%n",
                        100 * console.commShare());
            }
        }
        if (yardstick && (windows != null || !Double.isNaN(tps))) {
            String warning = sffn.cli.bench.Yardstick.environmentWarning();
            if (warning != null) System.out.println(warning);
        }
        if (yardstick && windows != null) {
            System.out.println(windows.describe(s.trainingFlops(1)));
        } else if (yardstick && !Double.isNaN(tps)) {
            sffn.cli.bench.Yardstick.Result y = sffn.cli.bench.Yardstick.sgemm();
            double executed = fps / 1e9;
            double model = tps * s.trainingFlops(1) / 1e9;
            System.out.printf(Locale.ROOT, "utilisation: %.1f GFLOP/s of executed FLOPs (guide included) = %.1f%%, %.1f GFLOP/s"
                            + " of the structured model's FLOPs = %.1f%%, of %s, measured now%n",
                    executed, 100 * executed / y.gflops(), model, 100 * model / y.gflops(), y.describe());
        }
        System.out.println("checkpoint: " + out);
    }
}
