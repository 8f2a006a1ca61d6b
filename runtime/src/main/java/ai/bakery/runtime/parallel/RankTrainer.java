package ai.bakery.runtime.parallel;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.model.config.ConfigException;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.collective.Collective;
import ai.bakery.runtime.collective.GradientBucketer;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.LoadedJob;
import ai.bakery.runtime.config.ParallelSection;
import ai.bakery.runtime.config.TrainingSection;
import ai.bakery.runtime.optim.AdamW;
import ai.bakery.runtime.optim.GradClipper;
import ai.bakery.runtime.optim.LrSchedule;
import ai.bakery.runtime.train.Ema;
import ai.bakery.runtime.train.StepResult;
import ai.bakery.runtime.train.StepSequence;
import ai.bakery.runtime.train.TrainJob;
import ai.bakery.runtime.train.TrainModel;
import ai.bakery.runtime.train.TrainStep;
import ai.bakery.runtime.train.Trainer;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One rank of a data-parallel training job: the model, AdamW, EMA, schedule and {@link TrainStep} of the job,
 * with gradients averaged over a {@link Collective} ({@link DataParallel}) and the loss normalised by the
 * group's token counts ({@link TokenCountReducer}). A worker drives it step by step:
 *
 * <pre>{@code
 * try (RankTrainer rank = RankTrainer.create(job, group)) {
 *   rank.broadcastState(0);                          // the group starts from rank 0's state
 *   TrainStep.Pending p = rank.compute(rank.nextStep(), batches);
 *   StepResult r = allRanksOk ? rank.commit() : null; // or rank.abort(), then compute the same step again
 * }
 * }</pre>
 *
 * <p>The weights and optimizer state live as long as this object; the group may change under it
 * ({@link #regroup}) when workers leave or join, after which {@link #broadcastState} makes the new group agree.
 * Steps are committed in order: {@link #compute} takes {@link #nextStep()} only. Not thread-safe: one caller
 * (the worker's executor thread) at a time.
 */
public final class RankTrainer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RankTrainer.class);
  /** libtorch's default generator is one per process: replicated ranks sharing a JVM take turns seeding it. */
  private static final Object GENERATOR = new Object();

  private final TrainModel model;
  private final TrainingSection training;
  private final ParallelSection parallel;
  private final GradientBucketer.Config buckets;
  private final AutoCloseable owned;
  private final NDManager root;
  private final AdamW optimizer;
  private final Ema ema;
  private final LrSchedule schedule;
  private final StepSequence steps;
  private Collective group;

  private RankTrainer(TrainModel model, TrainingSection training, ParallelSection parallel,
      GradientBucketer.Config buckets, Collective group, AutoCloseable owned) {
    this.model = Objects.requireNonNull(model, "model");
    this.training = Objects.requireNonNull(training, "training");
    this.parallel = parallel == null ? ParallelSection.DEFAULTS : parallel;
    this.buckets = buckets == null ? GradientBucketer.Config.defaults() : buckets;
    this.owned = owned;
    Torch.init();
    Trainer.applyFreezing(model.store(), training.loop());
    this.root = NDManager.newBaseManager();
    this.optimizer = new AdamW(model.store(), training.optimizer());
    this.ema = new Ema(model.store(), training.ema().ema());
    this.schedule = new LrSchedule(training.optimizer().lr(), training.schedule());
    checkStrategy(this.parallel, group == null ? 1 : group.worldSize());
    this.steps = new StepSequence(schedule, stepOver(group));
    this.group = group;
  }

  /**
   * Builds the job's model (preset or model folder, with seeded or released weights, as {@code bakery train}
   * does) and this rank's trainer over {@code group}.
   *
   * @param group this rank's group; null trains as a single process
   * @throws ConfigException when the job asks for a sharding strategy ranks cannot run yet
   */
  public static RankTrainer create(JobConfig config, Collective group) {
    checkStrategy(config.parallel(), group == null ? 1 : group.worldSize());
    TrainJob.Model built;
    try {
      built = TrainJob.buildModel(config);
    } catch (IOException e) {
      throw new UncheckedIOException(e.getMessage(), e);
    }
    try {
      return new RankTrainer(built.trainModel(), built.training(), config.parallel(), null, group, built);
    } catch (RuntimeException e) {
      built.close();
      throw e;
    }
  }

  /** As {@link #create(JobConfig, Collective)} for a loaded job file. */
  public static RankTrainer create(LoadedJob job, Collective group) {
    return create(job.config(), group);
  }

  /**
   * A rank over a model built elsewhere (not closed here), replicated: DDP over {@code group}.
   *
   * @param group this rank's group; null trains as a single process
   * @param buckets gradient bucketing; null for DDP's 25 MB in the gradients' dtype
   */
  public static RankTrainer of(TrainModel model, TrainingSection training, Collective group,
      GradientBucketer.Config buckets) {
    return new RankTrainer(model, training, new ParallelSection("NO_SHARD", 1, 1, "BACKWARD_PRE", false), buckets,
        group, null);
  }

  /** Replicated strategies run here; the sharded ones need the FULL_SHARD runtime. */
  private static void checkStrategy(ParallelSection p, int world) {
    if (world > 1 && !p.shardingStrategy().equals("NO_SHARD")) {
      throw new ConfigException("parallel.sharding_strategy: " + p.shardingStrategy() + " is not available to"
          + " data-parallel ranks yet; use NO_SHARD (every rank holds the whole model, gradients are averaged)");
    }
  }

  /**
   * Joins a new group (a new membership generation): a pending step is discarded, the rank and world size
   * (seeds, loss normalisation) come from {@code group}; weights, optimizer state and counters stay. Call
   * {@link #broadcastState} next if the members may disagree.
   */
  public void regroup(Collective group) {
    checkStrategy(parallel, group == null ? 1 : group.worldSize());
    steps.replace(stepOver(group));
    this.group = group;
  }

  /** The step over {@code group}: gradients averaged over it, losses normalised by its token counts. */
  private TrainStep stepOver(Collective group) {
    int world = group == null ? 1 : group.worldSize();
    GradientSync sync = group == null ? GradientSync.LOCAL : new DataParallel(group, buckets);
    TrainStep.CountReducer counts = group == null ? c -> c
        : new TokenCountReducer(group, training.loop().ceLossReweighting());
    TrainStep.Update update = TrainStep.Update.of(optimizer, ema);
    TrainStep next = new TrainStep(model, root, update, new GradClipper(training.optimizer().maxGradNorm()),
        training.loop(), training.loop().globalSeed(), group == null ? 0 : group.rank(), world, counts, sync);
    next.setGeneratorLock(GENERATOR); // uncontended with one rank per JVM; ranks as threads need it
    return next;
  }

  /**
   * Forward and backward of step {@code step}'s micro-batches ({@code gradient_accumulation_steps} taken from
   * {@code batches}), gradient averaging over the group, global norm and clip; nothing is updated until
   * {@link #commit}. Collective: every rank of the group computes the same step.
   *
   * @throws IllegalStateException when {@code step} is not {@link #nextStep()} or a step is already pending
   */
  public TrainStep.Pending compute(long step, Supplier<PackedBatch> batches) {
    return steps.compute(step, batches);
  }

  /** Applies the pending step (AdamW and EMA, or a counted skip when it was not finite). */
  public StepResult commit() {
    return steps.commit();
  }

  /** Drops the pending step's gradients, if any: state and counters stay at {@link #committedStep()}. */
  public void abort() {
    steps.abort();
  }

  /**
   * Makes every rank's weights, optimizer state, EMA and counters equal to rank {@code root}'s (a pending step is
   * discarded first). Collective.
   */
  public void broadcastState(int root) {
    if (group == null) {
      return;
    }
    abort();
    TrainStep ts = steps.trainStep();
    long[] mine = {steps.committedStep(), ts.microStep(), ts.skippedSteps(), ts.tokensSeen()};
    long[] theirs = StateSync.broadcast(group, root, model.store(), optimizer, ema, mine);
    if (steps.committedStep() != theirs[0] && group.rank() != root) {
      LOG.info("Rank {} takes rank {}'s state at committed step {} (had {}).", group.rank(), root, theirs[0],
          steps.committedStep());
    }
    steps.restore(theirs[0], theirs[1], theirs[2], theirs[3]);
  }

  /** Hash of this rank's weights, optimizer state and EMA (see {@link StateSync#fingerprint}). */
  public StateSync.Fingerprint fingerprint() {
    return StateSync.fingerprint(model.store(), optimizer, ema);
  }

  /** Every rank's fingerprint, by rank. Collective. */
  public List<StateSync.Fingerprint> gatherFingerprints() {
    StateSync.Fingerprint mine = fingerprint();
    return group == null ? List.of(mine) : StateSync.gather(group, mine);
  }

  /**
   * Continues the counters of a restored checkpoint: {@code committedStep} is the checkpoint's step (the next
   * computed step is the one after), the others as in its train state.
   */
  public void restoreCounters(long committedStep, long microStep, long skippedSteps, long tokensSeen) {
    steps.restore(committedStep, microStep, skippedSteps, tokensSeen);
  }

  /** The last applied step, -1 before the first. */
  public long committedStep() {
    return steps.committedStep();
  }

  public long nextStep() {
    return steps.nextStep();
  }

  /** The computed step awaiting {@link #commit} or {@link #abort}, or null. */
  public TrainStep.Pending pending() {
    return steps.pending();
  }

  public int rank() {
    return group == null ? 0 : group.rank();
  }

  public int worldSize() {
    return group == null ? 1 : group.worldSize();
  }

  /** The weights (also what a checkpoint saves as the model). */
  public ParameterStore store() {
    return model.store();
  }

  public AdamW optimizer() {
    return optimizer;
  }

  public Ema ema() {
    return ema;
  }

  public LrSchedule schedule() {
    return schedule;
  }

  /** Micro-batch, skip and token counters (for a checkpoint's train state). */
  public TrainStep trainStep() {
    return steps.trainStep();
  }

  public TrainingSection training() {
    return training;
  }

  public TrainModel model() {
    return model;
  }

  /** Releases the model state; the group is the caller's. */
  @Override
  public void close() {
    try {
      ema.close();
      optimizer.close();
      root.close();
    } finally {
      if (owned != null) {
        try {
          owned.close();
        } catch (Exception e) {
          LOG.warn("Closing the model failed: {}", e.toString());
        }
      }
    }
  }
}
