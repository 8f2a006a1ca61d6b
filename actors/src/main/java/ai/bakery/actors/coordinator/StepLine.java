package ai.bakery.actors.coordinator;

import ai.bakery.actors.worker.StepReport;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The coordinator's per-step progress line, in the single-process trainer's format: the group's losses (every
 * rank reports the same mean), steps per second and the group's packed tokens per second. Job step {@code s}
 * is the trainer's step {@code s - 1}, so a cluster run's lines read like {@code bakery train}'s.
 */
final class StepLine {
  private long generation = -1;
  private long step = -1;
  private long startedNanos;
  private long lastCommitNanos;
  private final Map<String, StepReport> reports = new HashMap<>();

  void started(long generation, long step, Set<String> ranks) {
    this.generation = generation;
    this.step = step;
    this.startedNanos = System.nanoTime();
    reports.clear();
  }

  void report(String worker, long generation, long step, StepReport report) {
    if (generation == this.generation && step == this.step && report != null) {
      reports.put(worker, report);
    }
  }

  /** The line of a committed step, when its ranks reported losses. */
  Optional<String> committed(long committedStep) {
    long now = System.nanoTime();
    // from the previous commit (waiting for data and forming included), or from the step's start for the first
    long since = lastCommitNanos == 0 ? startedNanos : lastCommitNanos;
    lastCommitNanos = now;
    if (committedStep != step || reports.isEmpty()) {
      return Optional.empty();
    }
    StepReport any = reports.values().iterator().next();
    if (Double.isNaN(any.ce())) {
      return Optional.empty();
    }
    long tokens = reports.values().stream().mapToLong(StepReport::tokens).sum();
    double seconds = Math.max((now - since) / 1e9, 1e-6);
    return Optional.of(format(committedStep - 1, any.mse(), any.ce(), 1 / seconds, tokens / seconds, reports.size()));
  }

  static String format(long trainerStep, double mse, double ce, double stepsPerSec, double tokensPerSec, int ranks) {
    return String.format(Locale.ROOT,
        "(step=%07d) Train Loss mse: %.4f, Train Loss ce: %.4f, Train Steps/Sec: %.2f, Tokens/Sec: %.2fk, Ranks: %d",
        trainerStep, mse, ce, stepsPerSec, tokensPerSec / 1000, ranks);
  }
}
