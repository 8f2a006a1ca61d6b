package ai.bakery.runtime.dashboard;

import ai.bakery.runtime.train.StepResult;

/**
 * One optimizer step as the dashboard shows it.
 *
 * @param step the step index
 * @param ce cross-entropy loss (0 when the step had none)
 * @param mse velocity MSE loss (0 when the step had none)
 * @param lr learning rate the update used
 * @param gradNorm global gradient norm before clipping (non-finite when the step was skipped)
 * @param tokensPerSecond packed tokens per second over the last logging window (0 when unknown)
 * @param mfu model FLOPs utilisation as a fraction of peak (0 when unknown)
 * @param tokens packed tokens in this step
 * @param skipped whether the update was dropped
 * @param timeMillis wall-clock time the step finished
 */
public record StepRecord(
    long step,
    double ce,
    double mse,
    double lr,
    double gradNorm,
    double tokensPerSecond,
    double mfu,
    long tokens,
    boolean skipped,
    long timeMillis) {

  /** The trainer's step result with the throughput figures it computes per logging window. */
  public static StepRecord of(StepResult r, double tokensPerSecond, double mfu) {
    return new StepRecord(r.step(), r.ce(), r.mse(), r.lr(), r.gradNorm(), tokensPerSecond, mfu, r.tokens(),
        r.skipped(), System.currentTimeMillis());
  }
}
