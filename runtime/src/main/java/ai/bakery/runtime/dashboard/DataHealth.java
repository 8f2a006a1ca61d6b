package ai.bakery.runtime.dashboard;

import java.util.Map;
import java.util.TreeMap;

/**
 * The data pipeline as last reported.
 *
 * @param queueDepths items waiting per queue (e.g. "decoded", "packed")
 * @param skipsByReason samples skipped so far, per reason (e.g. "corrupt_image", "too_long")
 * @param lagSeconds how far a live source is behind its newest data (0 for static datasets)
 */
public record DataHealth(Map<String, Integer> queueDepths, Map<String, Long> skipsByReason, double lagSeconds) {
  public static final DataHealth EMPTY = new DataHealth(Map.of(), Map.of(), 0);

  public DataHealth {
    queueDepths = Map.copyOf(new TreeMap<>(queueDepths == null ? Map.of() : queueDepths));
    skipsByReason = Map.copyOf(new TreeMap<>(skipsByReason == null ? Map.of() : skipsByReason));
  }

  public long totalSkips() {
    return skipsByReason.values().stream().mapToLong(Long::longValue).sum();
  }
}
