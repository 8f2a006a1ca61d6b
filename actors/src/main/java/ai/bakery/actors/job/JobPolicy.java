package ai.bakery.actors.job;

import java.time.Duration;

/**
 * Bounds and deadlines of an elastic job.
 *
 * @param minWorkers below this many live workers the job waits (it does not die)
 * @param maxWorkers ranks are given to at most this many workers; the rest stand by
 * @param batchesPerRank packed batches each rank trains per step (gradient accumulation)
 * @param stepTimeout a step not finished by then is aborted and its silent ranks presumed dead
 * @param formTimeout a group not ready by then is formed again without its silent ranks
 * @param maxSteps the job finishes after this many committed steps (0: until the data ends)
 * @param checkpointEvery {@code training.checkpoint.save_every}: job step {@code s} is saved when the trainer's step
 *     {@code s - 1} is a positive multiple of it (as {@code bakery train} saves), and the last step when the job
 *     finishes; 0 saves nothing
 * @param checkpointTimeout a checkpoint whose parts are not all durable by then is abandoned (never committed)
 */
public record JobPolicy(
    int minWorkers, int maxWorkers, int batchesPerRank, Duration stepTimeout, Duration formTimeout, long maxSteps,
    long checkpointEvery, Duration checkpointTimeout) {
  public JobPolicy {
    if (minWorkers < 1) {
      throw new IllegalArgumentException("min_workers must be >= 1, got " + minWorkers);
    }
    if (maxWorkers < minWorkers) {
      throw new IllegalArgumentException("max_workers (" + maxWorkers + ") must be >= min_workers (" + minWorkers + ")");
    }
    if (batchesPerRank < 1) {
      throw new IllegalArgumentException("batches per rank must be >= 1, got " + batchesPerRank);
    }
    if (maxSteps < 0) {
      throw new IllegalArgumentException("max_steps must be >= 0, got " + maxSteps);
    }
    if (checkpointEvery < 0) {
      throw new IllegalArgumentException("checkpoint.save_every must be >= 0 (0: no checkpoints), got "
          + checkpointEvery);
    }
    if (checkpointTimeout == null || checkpointTimeout.isNegative() || checkpointTimeout.isZero()) {
      throw new IllegalArgumentException("checkpoint timeout must be > 0, got " + checkpointTimeout);
    }
  }

  /** A job without checkpoints. */
  public JobPolicy(
      int minWorkers, int maxWorkers, int batchesPerRank, Duration stepTimeout, Duration formTimeout, long maxSteps) {
    this(minWorkers, maxWorkers, batchesPerRank, stepTimeout, formTimeout, maxSteps, 0, Duration.ofMinutes(10));
  }

  /** The same policy saving a checkpoint every {@code every} trainer steps, each abandoned after {@code timeout}. */
  public JobPolicy withCheckpoints(long every, Duration timeout) {
    return new JobPolicy(minWorkers, maxWorkers, batchesPerRank, stepTimeout, formTimeout, maxSteps, every, timeout);
  }

  /**
   * Whether committed job step {@code step} is saved on the interval. Job step {@code s} is the trainer's step
   * {@code s - 1}, which {@code bakery train} saves when it is a positive multiple of {@code save_every}.
   */
  public boolean checkpointDue(long step) {
    return checkpointEvery > 0 && step - 1 > 0 && (step - 1) % checkpointEvery == 0;
  }
}
