package ai.bakery.data.live;

import ai.bakery.data.DataRandom;
import ai.bakery.data.pack.PackCandidate;
import ai.bakery.data.pack.SampleRef;
import ai.bakery.data.plan.PlannedSample;
import ai.bakery.data.plan.SequencePlanner;
import ai.bakery.data.source.SkipCounter;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.pekko.actor.ActorSystem;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One loader worker's read of a live dataset group: the source's stream through a bounded buffer, each record
 * planned as a static group's sample and handed to the packer with a {@link SampleRef} whose row is a sequence
 * number. {@link #position} turns the packer's held refs into a {@link LivePosition}: resume at the oldest
 * held record of each key, passing over those already packed. Used by one thread (the worker's).
 */
public final class LiveGroupReader implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(LiveGroupReader.class);

  private record Handed(long seq, String key, long offset) {}

  private final int group;
  private final String name;
  private final LiveSource source;
  private final ActorSystem system;
  private final LiveFeed<LiveRecord> feed;
  private final SequencePlanner planner;
  private final long passSeed;
  private final SkipCounter skips;
  private final LivePosition start;
  private final Map<String, Long> next = new HashMap<>();
  private final Deque<Handed> handed = new ArrayDeque<>();
  private long seq;
  private long delivered;

  /**
   * @param group the group's index in the pipeline (the refs' group)
   * @param start where to resume, {@link LivePosition#START} for a fresh run
   * @param buffer records buffered between the stream and the packer
   */
  public LiveGroupReader(int group, String name, LiveSource source, LivePosition start, SequencePlanner planner,
      long seed, SkipCounter skips, int buffer) {
    this.group = group;
    this.name = name;
    this.source = source;
    this.planner = planner;
    this.passSeed = DataRandom.hash(seed, name + "#live");
    this.skips = skips;
    this.start = start;
    next.putAll(start.offsets());
    this.system = ActorSystem.create("bakery-live-" + name.replaceAll("[^A-Za-z0-9-]", "-"));
    try {
      this.feed = new LiveFeed<>(source.open(start, skips, system), buffer, system, name);
    } catch (RuntimeException e) {
      system.terminate();
      throw e;
    }
    LOG.info("live group {} reads {} from {}", name, source.describe(), start.offsets());
  }

  public String name() {
    return name;
  }

  /** The next sample that plans, if one is ready now; null otherwise (never blocks). */
  public PackCandidate poll() {
    return poll(0);
  }

  /** The next sample that plans, waiting up to {@code millis} for the stream; null if none came. */
  public PackCandidate poll(long millis) {
    long deadline = System.nanoTime() + millis * 1_000_000L;
    while (true) {
      long left = Math.max(0, (deadline - System.nanoTime()) / 1_000_000L);
      LiveRecord r = feed.poll(left);
      if (r == null) {
        return null;
      }
      long s = seq++;
      handed.addLast(new Handed(s, r.key(), r.offset()));
      next.put(r.key(), r.next());
      Optional<PlannedSample> planned = planner.plan(r.sample(), passSeed, skips);
      if (planned.isPresent()) {
        delivered++;
        return new PackCandidate(planned.get(), new SampleRef(group, 0, s, 0));
      }
    }
  }

  /** Samples handed to the packer so far. */
  public long delivered() {
    return delivered;
  }

  /**
   * Where a resume starts so that exactly the samples not yet packed come again.
   *
   * @param held the packer's held refs of this group (read, not packed)
   */
  public LivePosition position(Collection<SampleRef> held) {
    Set<Long> heldSeqs = new HashSet<>();
    for (SampleRef r : held) {
      heldSeqs.add(r.row());
    }
    long oldestHeld = heldSeqs.stream().mapToLong(Long::longValue).min().orElse(Long.MAX_VALUE);
    while (!handed.isEmpty() && handed.peekFirst().seq() < oldestHeld) {
      handed.pollFirst(); // packed (or skipped) before anything still held: covered by next[key]
    }
    Map<String, Long> resume = new HashMap<>(next);
    for (Handed h : handed) {
      if (heldSeqs.contains(h.seq())) {
        resume.merge(h.key(), h.offset(), Math::min);
      }
    }
    List<String> done = new ArrayList<>();
    for (Handed h : handed) {
      if (!heldSeqs.contains(h.seq()) && h.offset() >= resume.get(h.key())) {
        done.add(LivePosition.doneKey(h.key(), h.offset()));
      }
    }
    for (String d : start.done()) {
      int at = d.lastIndexOf('@');
      String key = d.substring(0, at);
      long offset = Long.parseLong(d.substring(at + 1));
      if (offset >= resume.getOrDefault(key, 0L)) {
        done.add(d); // not yet passed by this run's read
      }
    }
    return new LivePosition(resume, done);
  }

  @Override
  public void close() {
    try {
      feed.close();
      source.close();
    } finally {
      system.terminate();
      try {
        system.getWhenTerminated().toCompletableFuture().get(10, java.util.concurrent.TimeUnit.SECONDS);
      } catch (Exception e) {
        LOG.warn("live group {}: actor system did not stop in 10 s", name);
      }
    }
  }
}
