package ai.bakery.actors.worker;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.runtime.collective.Collective;
import ai.bakery.runtime.collective.CollectiveFactory;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.train.TrainStep;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Supplier;

/**
 * One rank of the job as a cluster worker drives it, whatever its parallelism: data parallel
 * ({@link DataParallelRank}, every worker holds the whole state) or sharded ({@link ShardedRank}, FULL_SHARD and
 * HYBRID_SHARD). Not thread-safe: the executor calls it from its one trainer thread.
 */
public interface ClusterRank extends AutoCloseable {
  /** The rank the job's {@code parallel.sharding_strategy} asks for. */
  static ClusterRank forJob(JobConfig config) {
    return config.parallel().shardingStrategy().equals("NO_SHARD") ? DataParallelRank.create(config)
        : new ShardedRank(config);
  }

  /**
   * Joins generation {@code generation}'s groups as rank {@code rank} of {@code world} (blocking until every rank
   * has) and moves this rank onto them; a pending step is dropped.
   */
  Groups join(long generation, int rank, int world, CollectiveFactory factory);

  /**
   * The step whose state this rank can continue in the groups just joined ({@code committedStep + 1}, the
   * coordinator's numbering), or -1 when what it holds does not fit them.
   */
  long heldStep();

  /**
   * Makes every rank hold the state of rank {@code root} (collective). {@code held} is each rank's
   * {@link #heldStep}.
   *
   * @throws IllegalStateException when this kind of rank cannot take state from a peer in this situation
   */
  void takeState(int root, long[] held);

  TrainStep.Pending compute(long step, Supplier<PackedBatch> batches);

  void commit();

  void abort();

  /** A short description of the state for logs (a fingerprint, sizes). */
  String describe();

  /**
   * This rank's part of a checkpoint of its committed state (live views: the saver copies them before the next
   * step), or null when another rank writes what this one holds.
   *
   * @param index this worker's place in the group that committed the step
   * @param ranks that group's size
   */
  default CheckpointPart checkpointPart(int index, int ranks) {
    throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot save checkpoints");
  }

  /**
   * Loads the committed state of checkpoint folder {@code stepDir} (saved by any number of ranks) for the groups just
   * joined: afterwards {@link #heldStep} is the checkpoint's job step.
   */
  default void restore(Path stepDir) throws IOException {
    throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot load checkpoints");
  }

  /**
   * One rank's part of a sharded checkpoint.
   *
   * @param rank the part's rank in the checkpoint
   * @param world the checkpoint's number of parts
   * @param groups slices by checkpoint group ({@code model}, {@code ema}, {@code optimizer})
   * @param rankStates this rank's own JSON states
   * @param stepFiles the step-wide JSON files ({@code train_state.json}, ...) from part 0; empty from the others
   */
  record CheckpointPart(int rank, int world, java.util.Map<String, List<ai.bakery.runtime.checkpoint.ShardedTensor>> groups,
      java.util.Map<String, String> rankStates, java.util.Map<String, String> stepFiles) {}

  /** Writes what this rank holds of the final weights to {@code file} (safetensors, fp32). */
  void export(Path file, long committedStep) throws IOException;

  @Override
  void close();

  /**
   * One generation's collectives.
   *
   * @param world the group of every rank of the job
   * @param all every group joined (closed together)
   */
  record Groups(Collective world, List<Collective> all) {
    public long generation() {
      return world.generation();
    }

    public void close() {
      for (Collective c : all) {
        c.close();
      }
    }
  }
}
