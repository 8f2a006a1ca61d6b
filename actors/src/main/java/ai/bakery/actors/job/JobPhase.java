package ai.bakery.actors.job;

import java.util.List;
import java.util.Map;
import java.util.Set;

/** The coordinator's job is in exactly one phase; {@link JobLogic} holds all transitions between them. */
sealed interface JobPhase {
  /** Fewer live workers than the minimum. */
  record Waiting() implements JobPhase {}

  /** Generation {@code generation} is building its collective group; {@code ready} have reported. */
  record Forming(long generation, List<String> ranks, Set<String> ready, long deadlineMillis) implements JobPhase {}

  /** A group is formed and waits for enough batches to start the next step. */
  record Idle(long generation, List<String> ranks) implements JobPhase {}

  /** Step {@code step} runs on {@code ranks}; {@code done} have finished it, {@code lost} died during it. */
  record Stepping(
      long generation,
      List<String> ranks,
      long step,
      Map<String, List<BatchId>> assignment,
      Set<String> done,
      Set<String> lost,
      long deadlineMillis) implements JobPhase {}

  /** max_steps reached; the final checkpoint of {@code step} is being written. */
  record Finishing(long step) implements JobPhase {}

  /** max_steps reached. */
  record Finished() implements JobPhase {}
}
