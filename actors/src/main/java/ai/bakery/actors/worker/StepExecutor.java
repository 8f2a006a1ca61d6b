package ai.bakery.actors.worker;

import ai.bakery.actors.job.BatchId;
import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * The device-side work a worker actor drives. Long calls return stages completed off the actor's thread.
 * The step is two-phase: {@link #computeStep} ends with reduced gradients held back; {@link #commit} applies
 * the update, {@link #abort} discards it.
 */
public interface StepExecutor {
  /** Builds this generation's collective group and brings model state to {@code committedStep}. */
  CompletionStage<Void> formGroup(long generation, int rank, List<String> ranks, long committedStep);

  /** Fetches the batches, runs forward/backward and the gradient reduction of the group. */
  CompletionStage<Void> computeStep(long generation, long step, List<BatchId> batches);

  void commit(long step);

  void abort(long generation, long step);
}
