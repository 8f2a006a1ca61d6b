package ai.bakery.runtime.parallel.fsdp;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.model.config.ConfigException;
import ai.bakery.runtime.collective.ParallelDims;
import ai.bakery.runtime.collective.ProcessMesh;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.ParallelSection;
import ai.bakery.runtime.config.TrainingSection;
import ai.bakery.runtime.optim.GradClipper;
import ai.bakery.runtime.optim.LrSchedule;
import ai.bakery.runtime.train.StepResult;
import ai.bakery.runtime.train.StepSequence;
import ai.bakery.runtime.train.TrainStep;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One rank of a FULL_SHARD or HYBRID_SHARD job, driven like {@link ai.bakery.runtime.parallel.RankTrainer}:
 * {@link #compute} a step (collective over the mesh), then {@link #commit} or {@link #abort}. The weights, AdamW
 * moments and EMA live only as this rank's shards ({@link #state()}); a checkpoint writes those slices.
 *
 * <p>Every rank starts from the same weights without a broadcast: seeded initial weights are drawn identically
 * on every rank, released ones are read from the same files. Ranks as threads of one JVM race on libtorch's
 * default generator (noise, posterior samples), which is fine for running but not for bit-equal comparisons.
 */
public final class ShardedRankTrainer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ShardedRankTrainer.class);

  private final Fsdp.Rank fsdp;
  private final TrainingSection training;
  private final LrSchedule schedule;
  private final StepSequence steps;
  private final NDManager root;
  private final AutoCloseable owned;
  private final int rank;
  private final int world;
  /** Set once {@link #relayout} gave the model to another trainer: closing this one frees only its shards. */
  private boolean modelHandedOver;

  private ShardedRankTrainer(Fsdp.Rank fsdp, TrainingSection training, int rank, int world, AutoCloseable owned) {
    this.fsdp = fsdp;
    this.training = training;
    this.rank = rank;
    this.world = world;
    this.owned = owned;
    this.root = NDManager.newBaseManager();
    this.schedule = new LrSchedule(training.optimizer().lr(), training.schedule());
    this.steps = new StepSequence(schedule, new TrainStep(fsdp.model(), root, fsdp.update(training.optimizer()),
        new GradClipper(training.optimizer().maxGradNorm()), training.loop(), training.loop().globalSeed(), rank, world,
        fsdp.counts(), fsdp.sync()));
  }

  /**
   * The mesh a sharding strategy asks for over {@code world} ranks: FULL_SHARD shards over all of them,
   * HYBRID_SHARD within groups of {@code parallel.num_shard}.
   *
   * @throws ConfigException naming the field when the strategy or the sizes do not fit
   */
  public static ParallelDims dims(ParallelSection parallel, int world) {
    switch (parallel.shardingStrategy()) {
      case "FULL_SHARD":
        return new ParallelDims(world, world);
      case "HYBRID_SHARD":
        if (parallel.numShard() > world || world % parallel.numShard() != 0) {
          throw new ConfigException("parallel.num_shard: " + parallel.numShard() + " must divide the " + world
              + " ranks of the job for HYBRID_SHARD");
        }
        return new ParallelDims(world, parallel.numShard());
      default:
        throw new ConfigException("parallel.sharding_strategy: " + parallel.shardingStrategy() + " is not a sharded"
            + " strategy here (FULL_SHARD or HYBRID_SHARD; NO_SHARD runs as data-parallel ranks)");
    }
  }

  /**
   * Builds the job's model and shards it over {@code mesh}, with the job's freezing, recompute and EMA, without
   * ever holding the whole model ({@link ShardedStart}): released weights ({@code model_path} +
   * {@code finetune_from_hf}) are read slice by slice, seeded initial weights (a preset) are drawn one parameter at
   * a time, each rank keeping its slices (equal to the slices of a full initialisation with the same seed).
   */
  public static ShardedRankTrainer create(JobConfig config, ProcessMesh mesh) {
    ShardedStart start;
    try {
      start = ShardedStart.open(config, mesh);
    } catch (IOException e) {
      throw new UncheckedIOException(e.getMessage(), e);
    }
    ShardedState state = start.rank().state();
    LOG.info("Rank {} of {}: shard {} of {} holds {} MiB of state ({} parameters)", mesh.rank(),
        mesh.dims().worldSize(), state.shardRank(), state.shardSize(), state.stateBytes() >> 20,
        state.params().size());
    return new ShardedRankTrainer(start.rank(), start.training(), mesh.rank(), mesh.dims().worldSize(), start);
  }

  /** A rank over sharded pieces built elsewhere ({@code owned} is closed with this trainer; may be null). */
  public static ShardedRankTrainer of(Fsdp.Rank fsdp, TrainingSection training, int rank, int world,
      AutoCloseable owned) {
    return new ShardedRankTrainer(fsdp, training, rank, world, owned);
  }

  /**
   * Continues on a new generation's mesh (a cluster re-formed with the same world): the pending step is dropped,
   * shards, moments, EMA and counters stay. The mesh must give this rank the same place and world.
   */
  public void regroup(ProcessMesh mesh) {
    if (mesh.rank() != rank || mesh.dims().worldSize() != world) {
      throw new IllegalArgumentException("this rank holds the shards of rank " + rank + " of " + world
          + ", the new mesh makes it rank " + mesh.rank() + " of " + mesh.dims().worldSize());
    }
    abort();
    fsdp.state().regroup(mesh.shard(), mesh.replicate());
  }

  /**
   * A trainer of the same model laid out for another mesh (the world or this rank's place changed): a new sharded
   * state over the same parameters, whose values are not set (fill them, e.g. with {@link ShardRegroup}, or load
   * a checkpoint), counters at the start. This trainer's pending step is dropped and its shards stay readable
   * until it is closed; the model now belongs to the new trainer, so close this one first or in any order.
   */
  public ShardedRankTrainer relayout(ProcessMesh mesh) {
    if (modelHandedOver) {
      throw new IllegalStateException("this trainer's model was already laid out again");
    }
    abort();
    ShardedState old = fsdp.state();
    java.util.List<String> prefixes = new java.util.ArrayList<>();
    for (ShardUnit u : old.units()) {
      if (u != old.root()) {
        prefixes.add(u.name());
      }
    }
    ShardedState next = new ShardedState(fsdp.model().store(), prefixes, mesh.shard(), mesh.replicate());
    try {
      if (old.hasEma()) {
        next.startEma(training.ema().ema());
      }
      ShardedTrainModel model = fsdp.model().over(next);
      Fsdp.Rank rank = new Fsdp.Rank(model, new ShardedGradientSync(model), next);
      AutoCloseable previous = owned;
      modelHandedOver = true;
      return new ShardedRankTrainer(rank, training, mesh.rank(), mesh.dims().worldSize(), () -> {
        rank.close();
        if (previous != null) {
          previous.close();
        }
      });
    } catch (RuntimeException e) {
      next.close();
      throw e;
    }
  }

  /** Forward and backward of step {@link #nextStep()} with gathers and reduce-scatters, global norm and clip. */
  public TrainStep.Pending compute(long step, Supplier<PackedBatch> batches) {
    try {
      return steps.compute(step, batches);
    } catch (RuntimeException | Error e) {
      fsdp.model().reset(); // no gathered weights survive a failed step
      throw e;
    }
  }

  /** Applies the pending step to the shards (AdamW, EMA), or counts it skipped when it was not finite. */
  public StepResult commit() {
    return steps.commit();
  }

  /** Drops the pending step's gradients; the shards stay at {@link #committedStep()}. */
  public void abort() {
    steps.abort();
    fsdp.model().reset();
  }

  /** Continues the counters of a restored checkpoint (whose slices were loaded into {@link #state()}). */
  public void restoreCounters(long committedStep, long microStep, long skippedSteps, long tokensSeen) {
    abort();
    steps.restore(committedStep, microStep, skippedSteps, tokensSeen);
  }

  public long committedStep() {
    return steps.committedStep();
  }

  public long nextStep() {
    return steps.nextStep();
  }

  public TrainStep.Pending pending() {
    return steps.pending();
  }

  /** This rank in the whole job (seeds, data). */
  public int rank() {
    return rank;
  }

  public int worldSize() {
    return world;
  }

  /** This rank's shards of weights, AdamW moments and EMA, and its step counts per parameter. */
  public ShardedState state() {
    return fsdp.state();
  }

  public ShardedTrainModel model() {
    return fsdp.model();
  }

  public TrainStep trainStep() {
    return steps.trainStep();
  }

  public LrSchedule schedule() {
    return schedule;
  }

  public TrainingSection training() {
    return training;
  }

  @Override
  public void close() {
    try {
      root.close();
    } finally {
      if (modelHandedOver) {
        fsdp.close(); // the model lives on in the trainer relayout made
      } else if (owned != null) {
        try {
          owned.close();
        } catch (Exception e) {
          LOG.warn("Closing the sharded model failed: {}", e.toString());
        }
      }
    }
  }
}
