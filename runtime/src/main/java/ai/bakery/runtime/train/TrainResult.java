package ai.bakery.runtime.train;

import java.nio.file.Path;
import java.util.List;

/**
 * What a {@link Trainer#run()} did.
 *
 * @param steps every step this run trained, in order
 * @param lastCheckpoint the last checkpoint written, or null
 * @param skippedSteps non-finite steps skipped over the whole run (resumed counts included)
 * @param stopped whether a {@link StopRequest} ended the run before its last step (the last finished step is
 *     checkpointed; {@code auto_resume} continues from it)
 */
public record TrainResult(List<StepResult> steps, Path lastCheckpoint, long skippedSteps, boolean stopped) {
  public TrainResult {
    steps = List.copyOf(steps);
  }

  /** A run that trained to its end. */
  public TrainResult(List<StepResult> steps, Path lastCheckpoint, long skippedSteps) {
    this(steps, lastCheckpoint, skippedSteps, false);
  }

  /** Mean CE of the first {@code n} steps of this run. */
  public double firstCe(int n) {
    return steps.subList(0, Math.min(n, steps.size())).stream().mapToDouble(StepResult::ce).average().orElse(0);
  }

  public double lastCe(int n) {
    return steps.subList(Math.max(0, steps.size() - n), steps.size()).stream().mapToDouble(StepResult::ce)
        .average().orElse(0);
  }

  public double firstMse(int n) {
    return steps.subList(0, Math.min(n, steps.size())).stream().mapToDouble(StepResult::mse).average().orElse(0);
  }

  public double lastMse(int n) {
    return steps.subList(Math.max(0, steps.size() - n), steps.size()).stream().mapToDouble(StepResult::mse)
        .average().orElse(0);
  }
}
