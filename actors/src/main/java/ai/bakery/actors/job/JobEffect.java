package ai.bakery.actors.job;

import java.util.List;
import java.util.Map;

/** What the job logic asks the coordinator actor to do. Effects are data; the actor performs them. */
public sealed interface JobEffect {
  /**
   * Form the collective group of a new generation: ranks in list order, resuming after {@code committedStep}. With
   * {@code restoreStep} >= 1 (then equal to {@code committedStep}) no worker is trusted to hold that state: every
   * rank loads its part of the checkpoint of job step {@code restoreStep}, for the world it now has.
   */
  record FormGroup(long generation, List<String> ranks, long committedStep, long restoreStep) implements JobEffect {
    public FormGroup(long generation, List<String> ranks, long committedStep) {
      this(generation, ranks, committedStep, -1);
    }

    public boolean restores() {
      return restoreStep >= 0;
    }
  }

  /** Run one step: each worker trains on its batches (in order). */
  record RunStep(long generation, long step, Map<String, List<BatchId>> assignment) implements JobEffect {}

  /** The step is committed: its batches are trained, exactly once. */
  record Commit(long step, List<BatchId> batches) implements JobEffect {}

  /** The step in flight is abandoned; its batches will be served again. */
  record AbortStep(long generation, long step, String reason) implements JobEffect {}

  /**
   * Start a replacement for a lost data shard: it packs again from {@code position} (empty: from the
   * start), numbering batches from {@code fromSeq}, and does not serve the seqs in {@code alreadyTrained}.
   */
  record RestartShard(String shard, long fromSeq, String position, java.util.Set<Long> alreadyTrained)
      implements JobEffect {}

  /** Too few workers: the job waits rather than dies. */
  record Waiting(int workers, int minWorkers) implements JobEffect {}

  /**
   * Save committed step {@code step}: each of {@code ranks} (the group that committed it) writes its part in the
   * background, all tagged {@code saveId}, and reports it durable.
   */
  record SaveCheckpoint(long generation, long step, String saveId, List<String> ranks) implements JobEffect {}

  /**
   * Every rank's part of checkpoint {@code step} is durable: write {@code stepFiles} and the job's state at that
   * step ({@code snapshot}, the ledger included), then the {@code COMPLETE} marker, last; report the outcome with
   * {@link JobEvent.CheckpointCommitted} or {@link JobEvent.CheckpointFailed}.
   *
   * @param parts how many rank parts the checkpoint has (its world size as a checkpoint)
   */
  record CommitCheckpoint(long step, String saveId, int parts, JobSnapshot snapshot, Map<String, String> stepFiles)
      implements JobEffect {}

  /** Checkpoint {@code step} will not be committed (a rank died or failed, or it took too long); it stays torn. */
  record CheckpointAbandoned(long step, String reason) implements JobEffect {}

  /**
   * No worker holds the job's committed state: the job goes back to the checkpoint of {@code toStep} (0: the start,
   * there being none); the batches of the steps after it are served again.
   */
  record Rewind(long fromStep, long toStep, String reason) implements JobEffect {}

  /** The job cannot go on (the state is lost and nothing can restore it). */
  record Fail(String reason) implements JobEffect {}

  /** A graceful leaver may go now: nothing of it is needed any more. */
  record Release(String worker) implements JobEffect {}
}
