package ai.bakery.runtime.train;

import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.checkpoint.CheckpointConfig;
import ai.bakery.runtime.checkpoint.CheckpointManager;
import ai.bakery.runtime.checkpoint.SchedulerState;
import ai.bakery.runtime.checkpoint.TrainState;
import ai.bakery.runtime.config.TrainingSection;
import ai.bakery.runtime.metrics.FlopCounter;
import ai.bakery.model.bench.GemmProbe;
import ai.bakery.runtime.metrics.MetricsLog;
import ai.bakery.runtime.metrics.ProcessMemory;
import ai.bakery.runtime.metrics.ProgressBar;
import ai.bakery.runtime.optim.AdamW;
import ai.bakery.runtime.optim.GradClipper;
import ai.bakery.runtime.optim.LrSchedule;
import ai.bakery.runtime.optim.OptimizerConfig;
import ai.bakery.runtime.optim.ScheduleConfig;
import ai.bakery.runtime.parallel.GradientSync;
import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The single-process training loop, in the reference's order: resume (or not), then for every step take the
 * next packs, run a {@link TrainStep} at the schedule's learning rate, log every {@code log_every} steps and
 * save every {@code save_every} steps, and save once more at the end.
 *
 * <p>A {@link StopRequest} (SIGTERM, Ctrl-C) is honoured at the next step boundary: the step in flight finishes,
 * the last finished step is checkpointed as at the end (unless that step was just saved), and the result says
 * {@link TrainResult#stopped()}. Nothing native is freed under a running step: the caller closes the trainer and
 * the model after {@link #run()} returns.
 *
 * <pre>{@code
 * try (Trainer trainer = Trainer.builder().setTraining(job.training()).setModel(model).setData(factory).build()) {
 *   TrainResult result = trainer.run();
 * }
 * }</pre>
 */
public final class Trainer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Trainer.class);

  private final TrainModel model;
  private final BatchSource.Factory data;
  private final OptimizerConfig optimizerConfig;
  private final ScheduleConfig scheduleConfig;
  private final TrainLoopConfig loop;
  private final CheckpointManager checkpoints;
  private final LrSchedule schedule;
  private final NDManager root;
  private final AdamW optimizer;
  private final Ema ema;
  private final TrainStep trainStep;
  private final int rank;
  private final int worldSize;
  private final double peakTflops;
  private final boolean progress;
  private final TrainHook hook;
  private final StopRequest stop;

  private Trainer(Builder b) {
    this.model = Objects.requireNonNull(b.model, "setModel");
    this.data = Objects.requireNonNull(b.data, "setData");
    TrainingSection t = Objects.requireNonNull(b.training, "setTraining");
    this.optimizerConfig = t.optimizer();
    this.scheduleConfig = t.schedule();
    this.loop = t.loop();
    this.rank = b.rank;
    this.worldSize = b.worldSize;
    this.progress = b.progress;
    this.hook = b.hook;
    this.stop = b.stop;
    CheckpointConfig ck = t.checkpoint();
    this.checkpoints = new CheckpointManager(ck);
    this.schedule = new LrSchedule(optimizerConfig.lr(), scheduleConfig);
    Torch.init();
    applyFreezing(model.store(), loop);
    this.root = NDManager.newBaseManager();
    this.optimizer = new AdamW(model.store(), optimizerConfig);
    this.ema = new Ema(model.store(), t.ema().ema());
    this.trainStep = new TrainStep(model, root, TrainStep.Update.of(optimizer, ema),
        new GradClipper(optimizerConfig.maxGradNorm()), loop, loop.globalSeed(), rank, worldSize, b.counts, b.sync);
    this.peakTflops = b.peakTflops > 0 ? b.peakTflops : loop.peakDeviceTflops();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The reference's freeze_llm / freeze_vit by weight-name prefix; freeze_vae concerns the separate VAE. */
  public static void applyFreezing(ParameterStore store, TrainLoopConfig loop) {
    if (loop.freezeLlm()) {
      int n = store.setTrainable(name -> name.startsWith("language_model."), false);
      LOG.info("freeze_llm: {} language model weights frozen.", n);
    }
    if (loop.freezeVit() && loop.visualUnd()) {
      int n = store.setTrainable(name -> name.startsWith("vit_model."), false);
      LOG.info("freeze_vit: {} ViT weights frozen.", n);
    }
    long trainable = store.trainable().stream().mapToLong(p -> p.value().size()).sum();
    LOG.info("Model parameter count: {} ({} trainable).", store.numel(), trainable);
  }

  /** Trains until {@code max_steps} (or {@code total_steps}); returns what was done. */
  public TrainResult run() {
    if (stop.requested()) {
      // asked to stop before anything was restored or trained: nothing to save
      LOG.info("Stop requested ({}) before training started: not training.", stop.reason());
      return new TrainResult(List.of(), null, trainStep.skippedSteps(), true);
    }
    long next = 0;
    String position = null;
    Optional<CheckpointManager.Plan> plan = checkpoints.plan();
    if (plan.isPresent()) {
      CheckpointManager.Restored r = checkpoints.restore(plan.get(), model.store(), ema, optimizer);
      next = r.nextStep();
      if (!r.modelOnly()) {
        trainStep.resumeCounters(r.trainState().microStep(), r.trainState().skippedSteps(),
            r.trainState().tokensSeen());
        noteChangedSettings(r);
        if (r.dataStatus() != null && rank < r.dataStatus().size()) {
          position = r.dataStatus().get(rank);
        }
        if (r.trainState().worldSize() != worldSize) {
          LOG.warn("Checkpoint was taken with {} ranks, resuming with {}.", r.trainState().worldSize(), worldSize);
        }
      }
    } else {
      LOG.info("Training from scratch.");
    }
    long end = scheduleConfig.totalSteps();
    if (loop.maxSteps() > 0) {
      end = Math.min(end, loop.maxSteps());
    }
    FlopCounter flops = model.flops();
    double peak = peakTflops;
    if (peak <= 0 && flops != null) {
      peak = GemmProbe.fp32Gflops(1024) / 1000.0;
      LOG.info("Peak fp32 rate measured by a GEMM probe: {} TFLOP/s per process.", String.format(Locale.ROOT, "%.3f", peak));
    }
    LOG.info("Training for {} steps, starting at {}...", scheduleConfig.totalSteps(), next);

    List<StepResult> done = new ArrayList<>();
    Path lastCheckpoint = null;
    long lastSaved = -1;
    ProgressBar bar = progress ? ProgressBar.forTerminal(next, end) : null;
    hook.onStart(next, end);
    long lastStep = next - 1;
    boolean stopped = false;
    try (BatchSource batches = data.open(position); MetricsLog metrics = new MetricsLog(loop.resultsDir())) {
      long windowStart = System.nanoTime();
      long windowTokens = 0;
      double windowSquares = 0;
      int windowSteps = 0;
      long step = next;
      for (; step < end; step++) {
        if (stop.requested()) {
          stopped = true;
          LOG.info("Stop requested ({}): stopping after step {} (the run would have gone to step {}).", stop.reason(),
              step - 1, end - 1);
          break;
        }
        long stepStart = System.nanoTime();
        StepResult r = trainStep.run(step, schedule.lr(step), batches::next);
        done.add(r);
        lastStep = step;
        double stepSeconds = Math.max((System.nanoTime() - stepStart) / 1e9, 1e-9);
        hook.onStep(r, stepSeconds, flops == null || peak <= 0 ? 0
            : flops.flops(r.tokens(), r.sumSquares()) / stepSeconds / 1e12 / (peak * worldSize),
            batches.skippedSamples(), ema);
        windowTokens += r.tokens();
        windowSquares += r.sumSquares();
        windowSteps++;
        if (step % loop.logEvery() == 0) {
          double elapsed = Math.max((System.nanoTime() - windowStart) / 1e9, 1e-6);
          if (bar != null) {
            bar.finish();
          }
          log(r, elapsed, windowSteps, windowTokens, windowSquares, flops, peak, batches, metrics);
          windowStart = System.nanoTime();
          windowTokens = 0;
          windowSquares = 0;
          windowSteps = 0;
        }
        if (bar != null) {
          bar.update(step + 1, String.format(Locale.ROOT, "ce %.4f mse %.4f", r.ce(), r.mse()));
        }
        if (step > 0 && step % checkpoints.config().saveEvery() == 0) {
          lastCheckpoint = save(step, batches);
          lastSaved = step;
          hook.onCheckpoint(step, lastCheckpoint);
        }
      }
      if (bar != null) {
        bar.finish();
      }
      long last = step - 1;
      if (last >= next && last != lastSaved) {
        LOG.info("Saving {} checkpoint at step {}...", stopped ? "the stopped run's" : "final", last);
        lastCheckpoint = save(last, batches);
        hook.onCheckpoint(last, lastCheckpoint);
      }
    } catch (RuntimeException | Error e) {
      hook.onFinish(lastStep, ema, e);
      throw e;
    }
    // a stopped run is not finished: hooks skip their end-of-run work (samples) while the notice runs out
    hook.onFinish(lastStep, ema, stopped ? new TrainingStopped("stopped after step " + lastStep + " ("
        + stop.reason() + "), resumable from its checkpoint") : null);
    LOG.info(stopped ? "Stopped after step {}." : "Done!", lastStep);
    return new TrainResult(done, lastCheckpoint, trainStep.skippedSteps(), stopped);
  }

  private void log(StepResult r, double elapsed, int steps, long tokens, double squares, FlopCounter flops,
      double peak, BatchSource batches, MetricsLog metrics) {
    double stepsPerSec = steps / elapsed;
    double tokensPerSec = tokens / elapsed;
    double tflops = flops == null ? 0 : flops.flops(tokens, squares) / elapsed / 1e12;
    double mfu = peak > 0 ? tflops / (peak * worldSize) : 0;
    LOG.info(logLine(r.step(), r.mse(), r.ce(), stepsPerSec, tokensPerSec, mfu));
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("step", r.step());
    m.put("ce", r.ce());
    m.put("mse", r.mse());
    m.put("lr", r.lr());
    m.put("grad_norm", r.gradNorm());
    m.put("tokens", r.tokens());
    m.put("tokens_per_s", tokensPerSec);
    m.put("steps_per_s", stepsPerSec);
    m.put("tflops", tflops);
    m.put("mfu", mfu);
    m.put("ce_tokens", r.ceTokens());
    m.put("mse_tokens", r.mseTokens());
    m.put("samples", r.samples());
    m.put("rss_bytes", ProcessMemory.rssBytes());
    m.put("skipped_steps", trainStep.skippedSteps());
    m.put("data_skips", batches.skippedSamples());
    metrics.write(m);
  }

  /** The reference's progress line, e.g. {@code (step=0000001) Train Loss mse: 0.4121, Train Loss ce: 0.8152, ...}. */
  static String logLine(long step, double mse, double ce, double stepsPerSec, double tokensPerSec, double mfu) {
    return String.format(Locale.ROOT,
        "(step=%07d) Train Loss mse: %.4f, Train Loss ce: %.4f, Train Steps/Sec: %.2f, Tokens/Sec: %.2fk, MFU: %.1f%%, ",
        step, mse, ce, stepsPerSec, tokensPerSec / 1000, mfu * 100);
  }

  private Path save(long step, BatchSource batches) {
    TrainState state = new TrainState(step, trainStep.microStep(), loop.globalSeed(), worldSize,
        trainStep.skippedSteps(), trainStep.tokensSeen());
    SchedulerState sched = new SchedulerState(step + 1, optimizerConfig.lr(), scheduleConfig.lrScheduler(),
        scheduleConfig.warmupSteps(), scheduleConfig.totalSteps(), scheduleConfig.minLr(), schedule.lr(step + 1));
    CheckpointManager.OptimizerSettings settings = new CheckpointManager.OptimizerSettings(optimizerConfig.lr(),
        optimizerConfig.beta1(), optimizerConfig.beta2(), optimizerConfig.eps(), optimizerConfig.weightDecay());
    return checkpoints.save(new CheckpointManager.Snapshot(model.store(), ema.stateDict(), optimizer.exportState(),
        settings, sched, state, List.of(batches.position())));
  }

  private void noteChangedSettings(CheckpointManager.Restored r) {
    SchedulerState s = r.scheduler();
    if (s.baseLr() != optimizerConfig.lr() || !s.lrScheduler().equals(scheduleConfig.lrScheduler())
        || s.warmupSteps() != scheduleConfig.warmupSteps() || s.totalSteps() != scheduleConfig.totalSteps()) {
      LOG.warn("The schedule differs from the checkpoint's (lr {} {} warmup {} total {}): continuing with the"
          + " configured one.", s.baseLr(), s.lrScheduler(), s.warmupSteps(), s.totalSteps());
    }
  }

  public Ema ema() {
    return ema;
  }

  public AdamW optimizer() {
    return optimizer;
  }

  @Override
  public void close() {
    ema.close();
    optimizer.close();
    root.close();
  }

  /** Builds a {@link Trainer}: the configs, the model and the data are required. */
  public static final class Builder {
    private TrainingSection training;
    private TrainModel model;
    private BatchSource.Factory data;
    private int rank = 0;
    private int worldSize = 1;
    private double peakTflops = 0;
    private boolean progress = true;
    private TrainStep.CountReducer counts = c -> c;
    private GradientSync sync = GradientSync.LOCAL;
    private TrainHook hook = TrainHook.NONE;
    private StopRequest stop = new StopRequest();

    public Builder setTraining(TrainingSection training) {
      this.training = training;
      return this;
    }

    public Builder setModel(TrainModel model) {
      this.model = model;
      return this;
    }

    public Builder setData(BatchSource.Factory data) {
      this.data = data;
      return this;
    }

    /** This process's rank and the number of ranks (seeds, data position, MFU); default 0 of 1. */
    public Builder optRank(int rank, int worldSize) {
      if (worldSize < 1 || rank < 0 || rank >= worldSize) {
        throw new IllegalArgumentException("rank " + rank + " of " + worldSize);
      }
      this.rank = rank;
      this.worldSize = worldSize;
      return this;
    }

    /** Peak TFLOP/s per device for MFU, overriding {@code peak_device_tflops} and the GEMM probe. */
    public Builder optPeakTflops(double tflops) {
      this.peakTflops = tflops;
      return this;
    }

    /** Whether to draw a progress bar when stdout is a terminal (default true). */
    public Builder optProgressBar(boolean progress) {
      this.progress = progress;
      return this;
    }

    /** Global token counts for loss normalisation across ranks; the identity by default. */
    public Builder optCountReducer(TrainStep.CountReducer counts) {
      this.counts = counts;
      return this;
    }

    /** Gradient averaging across ranks; none (a single process) by default. */
    public Builder optGradientSync(GradientSync sync) {
      this.sync = Objects.requireNonNull(sync, "sync");
      return this;
    }

    /** An observer of the run (dashboard, samples); none by default. */
    public Builder optHook(TrainHook hook) {
      this.hook = Objects.requireNonNull(hook, "hook");
      return this;
    }

    /** A request to stop at the next step boundary (preemption, Ctrl-C); none by default. */
    public Builder optStop(StopRequest stop) {
      this.stop = Objects.requireNonNull(stop, "stop");
      return this;
    }

    public Trainer build() {
      return new Trainer(this);
    }
  }
}
