package ai.bakery.runtime.train;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.runtime.optim.LrSchedule;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * Steps of a {@link TrainStep} driven from outside, in order: {@link #compute} takes only {@link #nextStep()},
 * then {@link #commit} applies it or {@link #abort} drops it. Holds the pending step and the last committed one
 * for the ranks a worker drives (data-parallel and sharded alike). Not thread-safe.
 */
public final class StepSequence {
  private final LrSchedule schedule;
  private TrainStep trainStep;
  private TrainStep.Pending pending;
  private long committedStep = -1;

  public StepSequence(LrSchedule schedule, TrainStep trainStep) {
    this.schedule = Objects.requireNonNull(schedule, "schedule");
    this.trainStep = Objects.requireNonNull(trainStep, "trainStep");
  }

  /**
   * Forward and backward of {@code step} at the schedule's learning rate; nothing is updated until {@link #commit}.
   *
   * @throws IllegalStateException when {@code step} is not {@link #nextStep()}
   */
  public TrainStep.Pending compute(long step, Supplier<PackedBatch> batches) {
    if (step != committedStep + 1) {
      throw new IllegalStateException("step " + step + " requested, but the next step of this rank is "
          + (committedStep + 1));
    }
    pending = trainStep.compute(step, schedule.lr(step), batches);
    return pending;
  }

  /** Applies the pending step (AdamW and EMA, or a counted skip when it was not finite). */
  public StepResult commit() {
    if (pending == null) {
      throw new IllegalStateException("no computed step to commit (next step " + (committedStep + 1) + ")");
    }
    TrainStep.Pending p = pending;
    pending = null;
    StepResult r = trainStep.apply(p);
    committedStep = r.step();
    return r;
  }

  /** Drops the pending step's gradients, if any: state and counters stay at {@link #committedStep()}. */
  public void abort() {
    if (pending != null) {
      TrainStep.Pending p = pending;
      pending = null;
      trainStep.discard(p);
    }
  }

  /**
   * Continues from {@code committedStep} (a restored checkpoint or a peer's state): the next computed step is the
   * one after; the step's counters as given. A pending step is dropped.
   */
  public void restore(long committedStep, long microStep, long skippedSteps, long tokensSeen) {
    abort();
    this.committedStep = committedStep;
    trainStep.resumeCounters(microStep, skippedSteps, tokensSeen);
  }

  /**
   * Goes on with {@code next} (the same state over a new group): a pending step is dropped, the counters carry
   * over.
   */
  public void replace(TrainStep next) {
    abort();
    next.resumeCounters(trainStep.microStep(), trainStep.skippedSteps(), trainStep.tokensSeen());
    trainStep = next;
  }

  /** The last applied step, -1 before the first. */
  public long committedStep() {
    return committedStep;
  }

  public long nextStep() {
    return committedStep + 1;
  }

  public TrainStep.Pending pending() {
    return pending;
  }

  public TrainStep trainStep() {
    return trainStep;
  }
}
