package ai.bakery.actors.job;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which packed batches each committed step consumed, and which are waiting to be served. Batches of an
 * aborted step go back to the front of the queue, so nothing is lost and nothing is trained twice.
 * Part of the checkpoint and of the coordinator's replicated state.
 */
public final class DataLedger {
  private final Map<Long, List<BatchId>> committed = new LinkedHashMap<>();
  private final Set<BatchId> trained = new HashSet<>();
  private final Deque<BatchId> queue = new ArrayDeque<>();
  private final Set<BatchId> known = new HashSet<>();
  private final Map<BatchId, String> positionsAfter = new java.util.HashMap<>();

  /** Offers new batches; ones already queued, in flight or trained are ignored (redelivery is harmless). */
  public void offer(List<BatchId> batches) {
    offer(batches, java.util.Collections.nCopies(batches.size(), ""));
  }

  /** Offers batches, each with the shard's data position right after packing it. */
  public void offer(List<BatchId> batches, List<String> positionAfter) {
    for (int i = 0; i < batches.size(); i++) {
      BatchId b = batches.get(i);
      if (known.add(b)) {
        queue.addLast(b);
        positionsAfter.put(b, positionAfter.get(i));
      }
    }
  }

  /**
   * Forgets a lost shard's batches that are not trained (queued ones; the caller gives in-flight ones back
   * first) and says where its replacement resumes: from the data position after the batch before its first
   * untrained one, skipping later batches that were trained.
   */
  public JobEffect.RestartShard dropShard(String shard) {
    long firstUntrained = Long.MAX_VALUE;
    long next = 0;
    for (BatchId b : known) {
      if (b.shard().equals(shard)) {
        next = Math.max(next, b.seq() + 1);
        if (!trained.contains(b)) {
          firstUntrained = Math.min(firstUntrained, b.seq());
        }
      }
    }
    long from = firstUntrained == Long.MAX_VALUE ? next : firstUntrained;
    Set<Long> skip = new java.util.TreeSet<>();
    for (BatchId b : trained) {
      if (b.shard().equals(shard) && b.seq() > from) {
        skip.add(b.seq());
      }
    }
    queue.removeIf(b -> b.shard().equals(shard) && !trained.contains(b));
    known.removeIf(b -> b.shard().equals(shard) && !trained.contains(b));
    String position = from == 0 ? "" : positionsAfter.getOrDefault(new BatchId(shard, from - 1), "");
    return new JobEffect.RestartShard(shard, from, position, skip);
  }

  public int available() {
    return queue.size();
  }

  /** Takes the next {@code n} batches for a step. */
  public List<BatchId> take(int n) {
    if (queue.size() < n) {
      throw new IllegalStateException("want " + n + " batches, " + queue.size() + " available");
    }
    List<BatchId> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      out.add(queue.pollFirst());
    }
    return out;
  }

  /** Returns the batches of an aborted step to the front of the queue, in their original order. */
  public void giveBack(List<BatchId> batches) {
    for (int i = batches.size() - 1; i >= 0; i--) {
      queue.addFirst(batches.get(i));
    }
  }

  public void commit(long step, List<BatchId> batches) {
    if (committed.containsKey(step)) {
      throw new IllegalStateException("step " + step + " committed twice");
    }
    for (BatchId b : batches) {
      if (!trained.add(b)) {
        throw new IllegalStateException("batch " + b + " trained twice (step " + step + ")");
      }
    }
    committed.put(step, List.copyOf(batches));
  }

  public Map<Long, List<BatchId>> committed() {
    return Collections.unmodifiableMap(committed);
  }

  public boolean isTrained(BatchId b) {
    return trained.contains(b);
  }

  /** Queue contents, front first (for snapshots). */
  public List<BatchId> queued() {
    return List.copyOf(queue);
  }

  /** Rebuilds a ledger from a snapshot: committed steps and the queue (batches in flight at the snapshot are in it). */
  public static DataLedger restore(Map<Long, List<BatchId>> committed, List<BatchId> queued) {
    return restore(committed, queued, List.of());
  }

  /** As {@link #restore(Map, List)}, with the data positions a restarted shard resumes from. */
  public static DataLedger restore(Map<Long, List<BatchId>> committed, List<BatchId> queued, List<Position> positions) {
    DataLedger l = new DataLedger();
    committed.forEach(l::commit);
    l.known.addAll(l.trained);
    l.offer(queued);
    for (Position p : positions) {
      l.positionsAfter.put(new BatchId(p.shard(), p.seq()), p.after());
    }
    return l;
  }

  /**
   * The data position right after one batch of a shard.
   *
   * @param after the shard's opaque position after packing batch {@code seq} (empty: unknown)
   */
  public record Position(String shard, long seq, String after) {}

  /**
   * The positions a snapshot must keep so that any of its shards can be restarted ({@link #dropShard}): per shard,
   * those of the batch before its first untrained one and of every later batch known (or, when all are trained, of
   * its last). Older positions are never needed again, so snapshots stay small however long the job runs.
   */
  public List<Position> resumePositions() {
    Map<String, Long> firstUntrained = new java.util.HashMap<>();
    Map<String, Long> lastKnown = new java.util.HashMap<>();
    for (BatchId b : known) {
      lastKnown.merge(b.shard(), b.seq(), Math::max);
      if (!trained.contains(b)) {
        firstUntrained.merge(b.shard(), b.seq(), Math::min);
      }
    }
    List<Position> out = new ArrayList<>();
    List<BatchId> sorted = new ArrayList<>(positionsAfter.keySet());
    Collections.sort(sorted);
    for (BatchId b : sorted) {
      Long untrained = firstUntrained.get(b.shard());
      long from = untrained != null ? untrained - 1 : lastKnown.getOrDefault(b.shard(), Long.MAX_VALUE);
      String after = positionsAfter.get(b);
      if (b.seq() >= from && after != null && !after.isEmpty()) {
        out.add(new Position(b.shard(), b.seq(), after));
      }
    }
    return out;
  }

  /** Every shard a batch known to this ledger came from. */
  public Set<String> shards() {
    Set<String> out = new java.util.TreeSet<>();
    for (BatchId b : known) {
      out.add(b.shard());
    }
    return out;
  }
}
