package ai.bakery.actors.worker;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.model.io.Dtype;
import ai.bakery.model.io.SafetensorsWriter;
import ai.bakery.runtime.collective.CollectiveFactory;
import ai.bakery.runtime.collective.ParallelDims;
import ai.bakery.runtime.collective.ProcessMesh;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.parallel.fsdp.ShardSlice;
import ai.bakery.runtime.parallel.fsdp.ShardedRankTrainer;
import ai.bakery.runtime.parallel.fsdp.ShardedState;
import ai.bakery.runtime.train.TrainStep;
import java.util.Arrays;
import java.util.List;
import java.nio.file.Path;
import java.util.function.Supplier;

/**
 * A FULL_SHARD or HYBRID_SHARD rank ({@link ShardedRankTrainer}): weights, AdamW moments and EMA live only as this
 * worker's shards. The model is built at the first generation, when the rank and world are known. A later
 * generation with the same world and rank keeps the shards; one with another world can start over only while
 * nothing is committed: shards are not moved between workers, so a changed world after the first commit fails
 * the forming (restart the job from its sharded checkpoint).
 */
public final class ShardedRank implements ClusterRank {
  static final String GROUP = "bakery-fsdp";

  private final JobConfig config;
  private ShardedRankTrainer trainer;
  /** The trainer's shards fit the groups last joined. */
  private boolean fits;

  public ShardedRank(JobConfig config) {
    this.config = config;
  }

  @Override
  public Groups join(long generation, int rank, int world, CollectiveFactory factory) {
    ParallelDims dims = ShardedRankTrainer.dims(config.parallel(), world);
    if (trainer != null) {
      trainer.abort();
      if ((trainer.rank() != rank || trainer.worldSize() != world) && trainer.committedStep() < 0) {
        // nothing trained yet: the fresh start is the same seeded (or read) model on any mesh
        trainer.close();
        trainer = null;
      }
    }
    ProcessMesh mesh = ProcessMesh.create(factory, GROUP, generation, rank, dims);
    try {
      if (trainer == null) {
        trainer = ShardedRankTrainer.create(config, mesh);
        fits = true;
      } else {
        fits = trainer.rank() == rank && trainer.worldSize() == world;
        if (fits) {
          trainer.regroup(mesh);
        }
      }
    } catch (RuntimeException e) {
      mesh.close();
      throw e;
    }
    return new Groups(mesh.world(), List.of(mesh.replicate(), mesh.shard(), mesh.world()));
  }

  @Override
  public long heldStep() {
    return trainer == null || !fits ? -1 : trainer.committedStep() + 1;
  }

  @Override
  public void takeState(int root, long[] held) {
    throw new IllegalStateException(config.parallel().shardingStrategy() + " ranks hold steps "
        + Arrays.toString(held) + " (-1: shards of another world), and sharded state is not moved between workers"
        + " yet; the state must come from a checkpoint: restart the job from its sharded checkpoint");
  }

  @Override
  public TrainStep.Pending compute(long step, Supplier<PackedBatch> batches) {
    return trainer().compute(step, batches);
  }

  @Override
  public void commit() {
    trainer().commit();
  }

  @Override
  public void abort() {
    if (trainer != null) {
      trainer.abort();
    }
  }

  @Override
  public String describe() {
    if (trainer == null) {
      return "not built";
    }
    ShardedState s = trainer.state();
    return String.format("shard %d of %d, %d of %d state bytes", s.shardRank(), s.shardSize(), s.stateBytes(),
        fullStateBytes(s));
  }

  /** Writes this rank's weight slices, each flat, with the shard and state sizes in the metadata. */
  @Override
  public void export(Path file, long committedStep) {
    ShardedState s = trainer().state();
    SafetensorsWriter w = new SafetensorsWriter().metadata("step", Long.toString(committedStep))
        .metadata("shard_rank", Integer.toString(s.shardRank()))
        .metadata("shard_size", Integer.toString(s.shardSize()))
        .metadata("state_bytes", Long.toString(s.stateBytes()))
        .metadata("full_state_bytes", Long.toString(fullStateBytes(s)));
    for (ShardSlice slice : s.params()) {
      if (slice.range().length() > 0) {
        w.add(slice.name(), slice.shard(), Dtype.F32);
      }
    }
    w.write(file);
  }

  /**
   * Bytes the same state takes unsharded, counted as {@link ShardedState#stateBytes} counts its shards (fp32
   * weights, the moments there are, the EMA of trainable weights): what one data-parallel rank holds.
   */
  static long fullStateBytes(ShardedState s) {
    long n = 0;
    for (List<ShardSlice> part : List.of(s.params(), s.expAvg(), s.expAvgSq())) {
      for (ShardSlice slice : part) {
        n += slice.numel();
      }
    }
    for (ShardSlice slice : s.ema()) {
      if (s.emaTracks(slice.name())) {
        n += slice.numel(); // a frozen weight's EMA is the weight itself, not held twice
      }
    }
    return n * Float.BYTES;
  }

  /** The trainer (built at the first generation). */
  public ShardedRankTrainer trainer() {
    if (trainer == null) {
      throw new IllegalStateException("this sharded rank has joined no generation yet");
    }
    return trainer;
  }

  @Override
  public void close() {
    if (trainer != null) {
      trainer.close();
    }
  }
}
