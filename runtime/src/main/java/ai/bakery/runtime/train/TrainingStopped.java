package ai.bakery.runtime.train;

/**
 * What {@link TrainHook#onFinish} receives as its error when a {@link StopRequest} ended the run early: not a
 * failure (the last finished step is checkpointed and the run resumable), but no "after the last step" work either
 * (final samples) while a preemption notice runs out.
 */
public final class TrainingStopped extends RuntimeException {
  public TrainingStopped(String message) {
    super(message, null, false, false);
  }
}
