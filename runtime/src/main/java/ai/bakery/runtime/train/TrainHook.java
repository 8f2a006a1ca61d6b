package ai.bakery.runtime.train;

import java.nio.file.Path;

/**
 * What the {@link Trainer} tells an observer as it runs (the dashboard, the sampler): called on the training
 * thread between steps, so an observer that does real work (sampling) pauses training for that long. Every
 * method has a no-op default.
 */
public interface TrainHook {
  TrainHook NONE = new TrainHook() {};

  /** Every hook in order; a failing hook does not stop the ones after it from hearing the event. */
  static TrainHook all(java.util.List<TrainHook> hooks) {
    java.util.List<TrainHook> list = java.util.List.copyOf(hooks);
    return new TrainHook() {
      @Override
      public void onStart(long first, long end) {
        list.forEach(h -> h.onStart(first, end));
      }

      @Override
      public void onStep(StepResult r, double seconds, double mfu, long dataSkips, Ema ema) {
        list.forEach(h -> h.onStep(r, seconds, mfu, dataSkips, ema));
      }

      @Override
      public void onCheckpoint(long step, Path dir) {
        list.forEach(h -> h.onCheckpoint(step, dir));
      }

      @Override
      public void onFinish(long lastStep, Ema ema, Throwable error) {
        list.forEach(h -> h.onFinish(lastStep, ema, error));
      }
    };
  }

  /** Training is about to run steps {@code [first, end)}. */
  default void onStart(long first, long end) {}

  /**
   * After every optimizer step.
   *
   * @param seconds wall time of the step
   * @param mfu model FLOPs utilisation of the step (0 when unknown)
   * @param dataSkips samples the data pipeline skipped so far
   * @param ema the EMA weights after the step
   */
  default void onStep(StepResult r, double seconds, double mfu, long dataSkips, Ema ema) {}

  /** After a checkpoint for {@code step} was written to {@code dir}. */
  default void onCheckpoint(long step, Path dir) {}

  /**
   * After the last step (and its checkpoint), or when training failed ({@code error} not null), or stopped early
   * ({@code error} a {@link TrainingStopped}, after the checkpoint of its last finished step).
   */
  default void onFinish(long lastStep, Ema ema, Throwable error) {}
}
