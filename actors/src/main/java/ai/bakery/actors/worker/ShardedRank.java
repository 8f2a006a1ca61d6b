package ai.bakery.actors.worker;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.model.io.Dtype;
import ai.bakery.model.io.SafetensorsWriter;
import ai.bakery.runtime.collective.CollectiveFactory;
import ai.bakery.runtime.collective.ParallelDims;
import ai.bakery.runtime.collective.ProcessMesh;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.parallel.fsdp.PeerCopy;
import ai.bakery.runtime.parallel.fsdp.ShardRegroup;
import ai.bakery.runtime.parallel.fsdp.ShardSlice;
import ai.bakery.runtime.parallel.fsdp.ShardedRankTrainer;
import ai.bakery.runtime.parallel.fsdp.ShardedState;
import ai.bakery.runtime.train.TrainStep;
import ai.bakery.runtime.train.StepResult;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.List;
import java.nio.file.Path;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A FULL_SHARD or HYBRID_SHARD rank ({@link ShardedRankTrainer}): weights, AdamW moments and EMA live only as this
 * worker's shards. The model is built at the first generation, when the rank and world are known. Each rank keeps
 * a {@link PeerCopy} of its right neighbour's shard ({@code parallel.peer_copy}): taken when a group forms, then
 * kept at the committed step by exchanging gradient shards in the compute and updating the copy at commit; when a
 * generation forms with other ranks or another world (a worker lost, leaving or joining), {@link ShardRegroup}
 * rebuilds every rank's shard of the new layout from the old shards and copies the ranks bring. When an old shard
 * is held by no rank (its worker and its copy's holder are both gone), the rank is laid out for the new group but
 * holds no step ({@link #heldStep} -1) and {@link #describe} says which shard is missing: the state must come from
 * the latest checkpoint.
 */
public final class ShardedRank implements ClusterRank {
  private static final Logger LOG = LoggerFactory.getLogger(ShardedRank.class);
  static final String GROUP = "bakery-fsdp";

  private final JobConfig config;
  private final PeerCopy copy = new PeerCopy();
  private ShardedRankTrainer trainer;
  private ProcessMesh mesh;
  /** The trainer holds a committed (or the initial) state laid out for the groups last joined. */
  private boolean fits;
  /** Why the trainer holds no state (an incomplete regroup), or null. */
  private String lost;

  public ShardedRank(JobConfig config) {
    this.config = config;
  }

  @Override
  public Groups join(long generation, int rank, int world, CollectiveFactory factory) {
    ParallelDims dims = ShardedRankTrainer.dims(config.parallel(), world);
    if (trainer != null) {
      trainer.abort();
    }
    ProcessMesh next = ProcessMesh.create(factory, GROUP, generation, rank, dims);
    try {
      if (trainer != null && lost != null && trainer.committedStep() < 0) {
        // a layout without values (an earlier regroup was incomplete): never let it pass for the initial weights
        trainer.close();
        trainer = null;
      }
      if (trainer == null) {
        trainer = ShardedRankTrainer.create(config, next);
      }
      ShardedRankTrainer held = trainer;
      trainer = null;
      ShardRegroup.Result r = ShardRegroup.run(held, copy, next, m -> ShardedRankTrainer.create(config, m));
      trainer = r.trainer();
      mesh = next;
      fits = r.kind() != ShardRegroup.Kind.INCOMPLETE;
      lost = fits ? null : r.reason();
      copy.invalidate();
      if (r.kind() == ShardRegroup.Kind.MOVED) {
        LOG.info("Rank {} of {} in generation {}: shards moved, {}", rank, world, generation, r.reason());
      }
      if (fits && config.parallel().peerCopy()) {
        copy.refresh(trainer.state(), next.shard(), trainer.committedStep());
      }
    } catch (RuntimeException e) {
      next.close();
      throw e;
    }
    return new Groups(next.world(), List.of(next.replicate(), next.shard(), next.world()));
  }

  @Override
  public long heldStep() {
    return trainer == null || !fits ? -1 : trainer.committedStep() + 1;
  }

  @Override
  public void takeState(int root, long[] held) {
    // join already moved the shards: ranks that still disagree hold different committed steps
    throw new IllegalStateException(config.parallel().shardingStrategy() + " ranks hold steps "
        + Arrays.toString(held) + " after moving their shards" + (lost == null ? "" : " (" + lost + ")")
        + "; the state must come from a checkpoint");
  }

  @Override
  public TrainStep.Pending compute(long step, Supplier<PackedBatch> batches) {
    if (!fits) {
      throw new IllegalStateException("this rank holds no state for its group" + (lost == null ? "" : ": " + lost));
    }
    TrainStep.Pending p = trainer().compute(step, batches);
    if (config.parallel().peerCopy()) {
      try {
        copy.exchangeGradients(trainer.state(), mesh.shard());
      } catch (RuntimeException e) {
        trainer.abort();
        throw e;
      }
    }
    return p;
  }

  @Override
  public void commit() {
    Map<String, Long> before = new HashMap<>(trainer().state().steps());
    StepResult r = trainer.commit();
    if (config.parallel().peerCopy()) {
      copy.followCommit(trainer.state(), before, r, trainer.training().optimizer(), trainer.training().ema().ema());
    }
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
    if (lost != null) {
      return "no state: " + lost;
    }
    ShardedState s = trainer.state();
    return String.format("shard %d of %d, %d of %d state bytes%s", s.shardRank(), s.shardSize(), s.stateBytes(),
        fullStateBytes(s), copy.valid() ? String.format("; copy of shard %d at step %d (%d bytes)", copy.shardIndex(),
        copy.step(), copy.bytes()) : "");
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

  /**
   * The trainer laid out for the groups last joined, to load a checkpoint into (its {@code state()} slices, then
   * {@code restoreCounters}); also after an incomplete regroup, when it holds no values. Call
   * {@link #stateRestored} once loaded.
   */
  public ShardedRankTrainer trainerForRestore() {
    return trainer();
  }

  /**
   * The trainer now holds a committed state again (loaded from a checkpoint on every rank of the group): it may
   * train, and the peer copies are refreshed. Collective over the shard group: every rank calls it.
   */
  public void stateRestored() {
    fits = true;
    lost = null;
    copy.invalidate();
    if (config.parallel().peerCopy()) {
      copy.refresh(trainer().state(), mesh.shard(), trainer.committedStep());
    }
  }

  /**
   * This rank's slices as the sharded checkpoint stores them, in its shard group's place (FULL_SHARD: its rank of the
   * world); under HYBRID_SHARD only the first replica writes, the others holding the same shards.
   */
  @Override
  public CheckpointPart checkpointPart(int index, int ranks) {
    ShardedRankTrainer t = trainer();
    if (!fits) {
      throw new IllegalStateException("this rank holds no state to save" + (lost == null ? "" : ": " + lost));
    }
    if (mesh.replicate().rank() != 0) {
      return null;
    }
    ShardedState s = t.state();
    java.util.Map<String, String> files = s.shardRank() != 0 ? java.util.Map.of()
        : CheckpointWriter.stepFiles(t.training(), t.schedule(), t.committedStep(), t.trainStep(), t.worldSize(),
            ai.bakery.runtime.parallel.fsdp.ShardedCheckpointParts.optimizerSteps(s));
    return new CheckpointPart(s.shardRank(), s.shardSize(), ai.bakery.runtime.parallel.fsdp.ShardedCheckpointParts.groups(s),
        java.util.Map.of(), files);
  }

  /**
   * Loads this rank's slices of a checkpoint saved by any number of ranks (weights, EMA, AdamW moments and counts),
   * then the counters; collective over the shard group ({@link #stateRestored}).
   */
  @Override
  public void restore(Path stepDir) throws java.io.IOException {
    ShardedRankTrainer t = trainerForRestore();
    com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
    try (ai.bakery.runtime.checkpoint.ShardedReader r = ai.bakery.runtime.checkpoint.ShardedReader.open(stepDir)) {
      String opt = r.stepFile(ai.bakery.runtime.checkpoint.CheckpointManager.OPTIMIZER_JSON).orElseThrow(
          () -> new java.io.IOException(stepDir + ": no optimizer.json"));
      java.util.Map<String, Long> steps = new java.util.LinkedHashMap<>();
      json.readTree(opt).get("steps").fields().forEachRemaining(e -> steps.put(e.getKey(), e.getValue().asLong()));
      ai.bakery.runtime.parallel.fsdp.ShardedCheckpointParts.restore(r, t.state(), steps, false);
      String train = r.stepFile(ai.bakery.runtime.checkpoint.CheckpointManager.TRAIN_STATE_JSON).orElseThrow(
          () -> new java.io.IOException(stepDir + ": no train_state.json"));
      ai.bakery.runtime.checkpoint.TrainState ts = json.readValue(train, ai.bakery.runtime.checkpoint.TrainState.class);
      t.restoreCounters(ts.step(), ts.microStep(), ts.skippedSteps(), ts.tokensSeen());
    }
    stateRestored();
  }

  /** The copy of a peer's shard this rank holds. */
  public PeerCopy peerCopy() {
    return copy;
  }

  @Override
  public void close() {
    try (PeerCopy c = copy) {
      if (trainer != null) {
        trainer.close();
      }
    }
  }
}
