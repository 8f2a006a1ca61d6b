package ai.bakery.actors.worker;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.model.io.Dtype;
import ai.bakery.model.io.SafetensorsWriter;
import ai.bakery.runtime.collective.Collective;
import ai.bakery.runtime.collective.CollectiveFactory;
import ai.bakery.runtime.config.JobConfig;
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

  /** The trainer (for tests and benches). */
  public RankTrainer trainer() {
    return trainer;
  }

  @Override
  public void close() {
    trainer.close();
  }
}
