package ai.bakery.runtime.parallel;

/**
 * The part {@code [start, end)} of a flattened tensor of {@code numel} elements that one rank of a sharded
 * group holds. Every rank gets {@code ceil(numel / world)} elements except the tail, which may be shorter or
 * empty; sharded training, sharded checkpoints and resharding on load all use this one rule, so any layout
 * can be rebuilt from {@code (numel, rank, world)} alone.
 */
public record ShardRange(long start, long end) {
  public ShardRange {
    if (start < 0 || end < start) {
      throw new IllegalArgumentException("bad shard range [" + start + ", " + end + ")");
    }
  }

  public static ShardRange of(long numel, int rank, int world) {
    if (world < 1 || rank < 0 || rank >= world) {
      throw new IllegalArgumentException("rank " + rank + " outside a world of " + world);
    }
    long chunk = chunk(numel, world);
    long s = Math.min(numel, chunk * rank);
    return new ShardRange(s, Math.min(numel, s + chunk));
  }

  /** Elements per rank before the tail: every rank's buffer is this long (padded) for the collectives. */
  public static long chunk(long numel, int world) {
    return (numel + world - 1) / world;
  }

  public long length() {
    return end - start;
  }

  /** The overlap with {@code other}, possibly empty (start == end). */
  public ShardRange intersect(ShardRange other) {
    long s = Math.max(start, other.start);
    long e = Math.min(end, other.end);
    return e <= s ? new ShardRange(s, s) : new ShardRange(s, e);
  }
}
