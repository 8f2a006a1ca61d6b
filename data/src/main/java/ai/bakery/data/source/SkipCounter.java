package ai.bakery.data.source;

import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLongArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Counts skipped examples per {@link SkipReason}, thread-safe. Bad input never stops a run: readers count
 * it here and move on. The first occurrence of each reason is logged at WARN with where it happened
 * (file and row) and why; later ones only at DEBUG, so a dataset full of one defect does not flood the
 * log.
 */
public final class SkipCounter {
  private static final Logger LOG = LoggerFactory.getLogger(SkipCounter.class);
  private static final SkipReason[] REASONS = SkipReason.values();

  private final AtomicLongArray counts = new AtomicLongArray(REASONS.length);

  /**
   * Records one skip.
   *
   * @param reason the category
   * @param where the file and row (or a {@link ShardUnit#key(long)}), for the log
   * @param detail what was wrong, for the log
   */
  public void skip(SkipReason reason, String where, String detail) {
    long before = counts.getAndIncrement(reason.ordinal());
    if (before == 0) {
      LOG.warn("skipped {} at {}: {} (first of this kind; later ones are counted, logged at DEBUG)",
          reason, where, detail);
    } else if (LOG.isDebugEnabled()) {
      LOG.debug("skipped {} at {}: {}", reason, where, detail);
    }
  }

  /** How many were skipped for this reason. */
  public long count(SkipReason reason) {
    return counts.get(reason.ordinal());
  }

  /** All skips. */
  public long total() {
    long sum = 0;
    for (int i = 0; i < REASONS.length; i++) {
      sum += counts.get(i);
    }
    return sum;
  }

  /** Non-zero counts in enum order, for metrics and {@code bakery data inspect}. */
  public Map<SkipReason, Long> snapshot() {
    EnumMap<SkipReason, Long> map = new EnumMap<>(SkipReason.class);
    for (SkipReason r : REASONS) {
      long c = counts.get(r.ordinal());
      if (c > 0) {
        map.put(r, c);
      }
    }
    return Collections.unmodifiableMap(map);
  }

  /** Adds another counter's counts into this one (e.g. per-worker counters into a run total). */
  public void addAll(SkipCounter other) {
    for (int i = 0; i < REASONS.length; i++) {
      counts.addAndGet(i, other.counts.get(i));
    }
  }

  @Override
  public String toString() {
    return "SkipCounter" + snapshot();
  }
}
