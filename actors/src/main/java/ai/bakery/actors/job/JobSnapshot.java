package ai.bakery.actors.job;

import java.util.List;
import java.util.Map;

/**
 * What a new coordinator needs to take the job over: the ledger (committed steps, batches still to serve,
 * including those of a step in flight, which is abandoned, and where each data shard resumes) and the counters.
 * Saved after every commit for a successor coordinator, and in every cluster checkpoint
 * ({@code job_snapshot.json}) so a job restored from it serves again exactly the batches trained after it.
 *
 * @param positions the data position right after each batch a restarted shard may resume behind (see
 *     {@link DataLedger#resumePositions}); empty in snapshots written before positions were kept
 */
public record JobSnapshot(long generation, long committedStep, Map<Long, List<BatchId>> committed, List<BatchId> queued,
    List<DataLedger.Position> positions) {
  @com.fasterxml.jackson.annotation.JsonCreator
  public JobSnapshot {
    committed = Map.copyOf(committed);
    queued = List.copyOf(queued);
    positions = positions == null ? List.of() : List.copyOf(positions);
  }

  public JobSnapshot(long generation, long committedStep, Map<Long, List<BatchId>> committed, List<BatchId> queued) {
    this(generation, committedStep, committed, queued, List.of());
  }

  /** The ledger this snapshot describes. */
  public DataLedger ledger() {
    return DataLedger.restore(new java.util.TreeMap<>(committed), queued, positions);
  }

  /** A coordinator resumed from here forms a fresh generation, so messages of the old one are ignored. */
  public JobLogic resume(JobPolicy policy, java.util.function.LongSupplier clockMillis) {
    return new JobLogic(policy, clockMillis, ledger(), generation, committedStep);
  }
}
