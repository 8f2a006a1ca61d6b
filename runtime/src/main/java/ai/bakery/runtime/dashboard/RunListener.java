package ai.bakery.runtime.dashboard;

import java.nio.file.Path;

/**
 * What a training loop reports as it goes. Calls come from the training thread and must return quickly; every
 * method but {@link #onStep} has a no-op default so a loop can report only what it knows.
 */
public interface RunListener {
  /** A listener that ignores everything. */
  RunListener NONE = r -> {};

  /** Called once after every optimizer step. */
  void onStep(StepRecord record);

  /** Called after a checkpoint for {@code step} was written to {@code dir}. */
  default void onCheckpoint(long step, Path dir) {}

  /** A free-form line for the dashboard's log panel. */
  default void onLog(String level, String logger, String message) {}

  /** The data pipeline's health, reported as the loop learns it. */
  default void onDataHealth(DataHealth health) {}

  /** The run's planned number of steps. */
  default void onTotalSteps(long total) {}

  /** New samples drawn from the model during training. */
  default void onSamples(SampleSet samples) {}

  /** The job moved to another state ("starting", "running", "finished", "failed: ..."). */
  default void onJobState(String state) {}
}
