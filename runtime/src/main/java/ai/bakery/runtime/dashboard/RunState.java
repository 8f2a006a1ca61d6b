package ai.bakery.runtime.dashboard;

import java.util.List;

/**
 * An immutable snapshot of a {@link RunMonitor}: what {@code /api/state} returns and what the page draws.
 *
 * @param job the job's name
 * @param state the job state ("starting", "running", "finished", ...)
 * @param startedMillis when the monitor was created
 * @param step the last finished step, -1 before the first
 * @param totalSteps the planned number of steps, 0 when unknown
 * @param tokensTotal packed tokens over all reported steps
 * @param skippedSteps steps whose update was dropped
 * @param series the most recent steps, oldest first (bounded)
 * @param members the job's processes, by name
 * @param data the data pipeline's health
 * @param checkpoints the most recent checkpoints, oldest first (bounded)
 * @param logs the most recent log lines, oldest first (bounded)
 */
public record RunState(
    String job,
    String state,
    long startedMillis,
    long step,
    long totalSteps,
    long tokensTotal,
    long skippedSteps,
    List<StepRecord> series,
    List<Member> members,
    DataHealth data,
    List<CheckpointInfo> checkpoints,
    List<LogLine> logs) {

  /** The newest step, or null before the first. */
  public StepRecord latest() {
    return series.isEmpty() ? null : series.get(series.size() - 1);
  }
}
