package ai.bakery.actors.job;

import java.util.List;
import java.util.Map;

/**
 * What a new coordinator needs to take the job over: the ledger (committed steps and batches still to
 * serve, including those of a step in flight, which is abandoned) and the counters. Saved with checkpoints
 * and replicated to standby coordinators.
 */
public record JobSnapshot(long generation, long committedStep, Map<Long, List<BatchId>> committed, List<BatchId> queued) {
  public JobSnapshot {
    committed = Map.copyOf(committed);
    queued = List.copyOf(queued);
  }

  /** A coordinator resumed from here forms a fresh generation, so messages of the old one are ignored. */
  public JobLogic resume(JobPolicy policy, java.util.function.LongSupplier clockMillis) {
    return new JobLogic(policy, clockMillis, DataLedger.restore(new java.util.TreeMap<>(committed), queued),
        generation, committedStep);
  }
}
