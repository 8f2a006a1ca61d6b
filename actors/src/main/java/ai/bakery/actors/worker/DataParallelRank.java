package ai.bakery.actors.worker;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.model.io.Dtype;
import ai.bakery.model.io.SafetensorsWriter;
import ai.bakery.runtime.collective.Collective;
import ai.bakery.runtime.collective.CollectiveFactory;
import ai.bakery.runtime.checkpoint.CheckpointManager;
import ai.bakery.runtime.checkpoint.SchedulerState;
import ai.bakery.runtime.checkpoint.ShardedSaver;
import ai.bakery.runtime.checkpoint.ShardedTensor;
import ai.bakery.runtime.checkpoint.TrainState;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.TrainingSection;
import ai.bakery.runtime.parallel.RankTrainer;
import ai.bakery.runtime.train.TrainStep;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Supplier;

/** A data-parallel rank ({@link RankTrainer}): the whole state on every worker, gradients averaged over one ring. */
public final class DataParallelRank implements ClusterRank {
  static final String GROUP = "bakery-train";

  private final RankTrainer trainer;

  public DataParallelRank(RankTrainer trainer) {
    this.trainer = trainer;
  }

  /** Builds the job's model (seeded as {@code bakery train} does: every fresh rank starts equal). */
  public static DataParallelRank create(JobConfig config) {
    return new DataParallelRank(RankTrainer.create(config, null));
  }

  @Override
  public Groups join(long generation, int rank, int world, CollectiveFactory factory) {
    trainer.abort();
    Collective g = factory.create(GROUP, generation, rank, world);
    trainer.regroup(g);
    return new Groups(g, List.of(g));
  }

  @Override
  public long heldStep() {
    return trainer.committedStep() + 1;
  }

  @Override
  public void takeState(int root, long[] held) {
    trainer.broadcastState(root);
  }

  @Override
  public TrainStep.Pending compute(long step, Supplier<PackedBatch> batches) {
    return trainer.compute(step, batches);
  }

  @Override
  public void commit() {
    trainer.commit();
  }

  @Override
  public void abort() {
    trainer.abort();
  }

  @Override
  public String describe() {
    return trainer.fingerprint().toString();
  }

  @Override
  public void export(Path file, long committedStep) {
    new SafetensorsWriter().metadata("step", Long.toString(committedStep))
        .metadata("fingerprint", trainer.fingerprint().toString())
        .addAll(trainer.store(), Dtype.F32).write(file);
  }

  /**
   * Every rank holds the whole state: rank {@code index} of {@code ranks} writes the {@code ShardRange} slice of every
   * tensor, so the group writes the state once, spread evenly; part 0 also gives the step-wide files.
   */
  @Override
  public CheckpointPart checkpointPart(int index, int ranks) {
    java.util.Map<String, ai.djl.ndarray.NDArray> model = new java.util.LinkedHashMap<>();
    for (ai.bakery.model.tensor.Parameter p : trainer.store().all().values()) {
      model.put(p.name(), p.value());
    }
    ai.bakery.runtime.optim.AdamW.State opt = trainer.optimizer().exportState();
    java.util.Map<String, List<ShardedTensor>> groups = new java.util.LinkedHashMap<>();
    groups.put(ShardedSaver.MODEL, ShardedTensor.allOfFull(model, index, ranks));
    groups.put(ShardedSaver.EMA, ShardedTensor.allOfFull(trainer.ema().stateDict(), index, ranks));
    groups.put(ShardedSaver.OPTIMIZER, ShardedTensor.allOfFull(opt.tensors(), index, ranks));
    return new CheckpointPart(index, ranks, groups, java.util.Map.of(),
        index == 0 ? stepFiles(trainer, opt.steps()) : java.util.Map.of());
  }

  /** The step-wide files {@code bakery train} writes, for the trainer's committed step. */
  static java.util.Map<String, String> stepFiles(RankTrainer t, java.util.Map<String, Long> optimizerSteps) {
    TrainingSection tr = t.training();
    long step = t.committedStep();
    TrainState state = new TrainState(step, t.trainStep().microStep(), tr.loop().globalSeed(), t.worldSize(),
        t.trainStep().skippedSteps(), t.trainStep().tokensSeen());
    SchedulerState sched = new SchedulerState(step + 1, tr.optimizer().lr(), tr.schedule().lrScheduler(),
        tr.schedule().warmupSteps(), tr.schedule().totalSteps(), tr.schedule().minLr(), t.schedule().lr(step + 1));
    CheckpointManager.OptimizerSettings settings = new CheckpointManager.OptimizerSettings(tr.optimizer().lr(),
        tr.optimizer().beta1(), tr.optimizer().beta2(), tr.optimizer().eps(), tr.optimizer().weightDecay());
    return CheckpointManager.stepFiles(settings, optimizerSteps, sched, state, null);
  }

  /** Loads weights, AdamW moments, EMA and counters (whole tensors, from however many parts were saved). */
  @Override
  public void restore(Path stepDir) {
    CheckpointManager.Restored r = new CheckpointManager(trainer.training().checkpoint()).restore(
        new CheckpointManager.Plan(stepDir, false, false), trainer.store(), trainer.ema(), trainer.optimizer());
    TrainState s = r.trainState();
    trainer.restoreCounters(s.step(), s.microStep(), s.skippedSteps(), s.tokensSeen());
  }

  /** The trainer (for tests and benches). */
  public RankTrainer trainer() {
    return trainer;
  }

  @Override
  public void close() {
    trainer.close();
  }
}
