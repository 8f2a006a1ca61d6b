package ai.bakery.actors.job;

import java.util.List;
import java.util.Map;

/** What the job logic asks the coordinator actor to do. Effects are data; the actor performs them. */
public sealed interface JobEffect {
  /** Form the collective group of a new generation: ranks in list order, resuming after {@code committedStep}. */
  record FormGroup(long generation, List<String> ranks, long committedStep) implements JobEffect {}

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

  /** A graceful leaver may go now: nothing of it is needed any more. */
  record Release(String worker) implements JobEffect {}
}
