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
