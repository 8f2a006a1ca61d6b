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

  /** A worker finished (forward, backward, all-reduce, update) the step of this generation. */
  record StepDone(String worker, long generation, long step) implements JobEvent {}

  /** A worker could not finish the step (collective error, non-finite loss handled elsewhere). */
  record StepFailed(String worker, long generation, long step, String reason) implements JobEvent {}

  /** Data shards announce batches packed and ready to serve. */
  record BatchesReady(List<BatchId> batches) implements JobEvent {
    public BatchesReady {
      batches = List.copyOf(batches);
    }
  }

  /** The data shards have served every batch of the epoch: a last, partial step may run. */
  record DataEnd() implements JobEvent {}

  /** Time passes; step and group-forming deadlines are checked. */
  record Tick() implements JobEvent {}
}
