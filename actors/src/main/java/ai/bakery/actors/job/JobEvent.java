package ai.bakery.actors.job;

import java.util.List;

/** What the coordinator's job logic reacts to. Every event is stamped by the caller's clock. */
public sealed interface JobEvent {
  /** A worker is up and ready to be given a rank. */
  record WorkerUp(String worker) implements JobEvent {}

  /** A worker is gone: killed or unreachable ({@code graceful} false), or leaving on notice (true). */
  record WorkerDown(String worker, boolean graceful) implements JobEvent {}

  /** A worker has built its collective group of this generation and holds its state shards. */
  record GroupReady(String worker, long generation) implements JobEvent {}

  /**
   * A worker could not build its collective group of this generation (a peer it was to meet moved on or died): no
   * rank of it can train, so the job forms the next generation without waiting out the form timeout.
   */
  record GroupFailed(String worker, long generation, String reason) implements JobEvent {}

  /** A worker finished (forward, backward, all-reduce, update) the step of this generation. */
  record StepDone(String worker, long generation, long step) implements JobEvent {}

  /** A worker could not finish the step (collective error, non-finite loss handled elsewhere). */
  record StepFailed(String worker, long generation, long step, String reason) implements JobEvent {}

  /**
   * A data shard announces batches packed and ready to serve, each with the shard's opaque data position
   * right after packing it (a replacement shard resumes from there).
   */
  record BatchesReady(List<BatchId> batches, List<String> positions) implements JobEvent {
    public BatchesReady {
      batches = List.copyOf(batches);
      positions = List.copyOf(positions);
      if (positions.size() != batches.size()) {
        throw new IllegalArgumentException(batches.size() + " batches but " + positions.size() + " positions");
      }
    }

    public BatchesReady(List<BatchId> batches) {
      this(batches, java.util.Collections.nCopies(batches.size(), ""));
    }
  }

  /** A data shard died: its untrained batches cannot be fetched any more and must be packed again. */
  record ShardLost(String shard) implements JobEvent {}

  /** The data shards have served every batch of the epoch: a last, partial step may run. */
  record DataEnd() implements JobEvent {}

  /**
   * Forming generation {@code generation}, the ranks found that none of them holds the committed state (every worker
   * restarted, or sharded state of another world with no peer copy left), so it must come from a checkpoint.
   */
  record StateLost(String worker, long generation, String reason) implements JobEvent {}

  /**
   * A rank's part of checkpoint {@code step} is durable.
   *
   * @param part the part's rank in the checkpoint, or -1 when this rank writes none (another replica holds the same)
   * @param parts the checkpoint's number of parts as this rank sees it
   * @param stepFiles the step-wide files the checkpoint needs (train state, schedule, optimizer counts), given by the
   *     rank writing part 0; empty from the others
   */
  record CheckpointPartSaved(String worker, long step, String saveId, int part, int parts,
      java.util.Map<String, String> stepFiles) implements JobEvent {
    public CheckpointPartSaved {
      stepFiles = stepFiles == null ? java.util.Map.of() : java.util.Map.copyOf(stepFiles);
    }
  }

  /** A rank could not write its part of checkpoint {@code step}. */
  record CheckpointPartFailed(String worker, long step, String saveId, String reason) implements JobEvent {}

  /** Checkpoint {@code step}'s COMPLETE marker is durable: the job can be restored from it. */
  record CheckpointCommitted(long step, String saveId) implements JobEvent {}

  /** Writing checkpoint {@code step}'s job state or marker failed: it stays torn. */
  record CheckpointFailed(long step, String saveId, String reason) implements JobEvent {}

  /** Time passes; step and group-forming deadlines are checked. */
  record Tick() implements JobEvent {}
}
