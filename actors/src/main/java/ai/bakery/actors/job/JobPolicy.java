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
 */
public record JobPolicy(
    int minWorkers, int maxWorkers, int batchesPerRank, Duration stepTimeout, Duration formTimeout, long maxSteps) {
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
  }
}
