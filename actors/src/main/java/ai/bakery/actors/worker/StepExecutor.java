package ai.bakery.actors.worker;

import ai.bakery.actors.job.BatchId;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;

/**
 * The device-side work a worker actor drives. Long calls return stages completed off the actor's thread.
 * The step is two-phase: {@link #computeStep} ends with reduced gradients held back; {@link #commit} applies
 * the update, {@link #abort} discards it. Calls arrive in the coordinator's order; an implementation runs
 * them in that order.
 */
public interface StepExecutor {
  /** Builds this generation's collective group and brings model state to {@code committedStep}. */
  CompletionStage<Void> formGroup(long generation, int rank, List<String> ranks, long committedStep);

  /**
   * As {@link #formGroup(long, int, List, long)}; with {@code restoreFrom} (a checkpoint step folder) every rank
   * loads its part of that checkpoint instead of agreeing on the state it holds.
   *
   * @throws StateUnavailableException (through the stage) when no rank holds {@code committedStep} and nothing was
   *     to be restored: the coordinator goes back to a checkpoint
   */
  default CompletionStage<Void> formGroup(long generation, int rank, List<String> ranks, long committedStep,
      java.nio.file.Path restoreFrom) {
    if (restoreFrom == null) {
      return formGroup(generation, rank, ranks, committedStep);
    }
    return java.util.concurrent.CompletableFuture.failedFuture(
        new UnsupportedOperationException(getClass().getSimpleName() + " cannot load checkpoints"));
  }

  /**
   * Saves this rank's part of committed step {@code step} under {@code root} (after its commit, in call order); the
   * stage completes when the part is durable.
   *
   * @param ranks the group that committed the step (this worker's place in it decides its part)
   */
  default CompletionStage<CheckpointWriter.Part> saveCheckpoint(long step, String saveId, List<String> ranks,
      int index, java.nio.file.Path root) {
    return java.util.concurrent.CompletableFuture.failedFuture(
        new UnsupportedOperationException(getClass().getSimpleName() + " cannot save checkpoints"));
  }

  /**
   * Fetches the batches, runs forward/backward and the gradient reduction of the group.
   *
   * @param sources where each data shard named in {@code batches} serves them (shard to Flight URI)
   */
  CompletionStage<StepReport> computeStep(long generation, long step, List<BatchId> batches,
      Map<String, String> sources);

  void commit(long step);

  void abort(long generation, long step);

  /** The job is finished at {@code committedStep}: write what the job keeps (final weights) and release resources. */
  default CompletionStage<Void> finish(long committedStep) {
    return java.util.concurrent.CompletableFuture.completedFuture(null);
  }
}
