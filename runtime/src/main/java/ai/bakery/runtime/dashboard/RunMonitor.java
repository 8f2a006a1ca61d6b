package ai.bakery.runtime.dashboard;

import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live picture of one run, in memory: job state, members, step series, data health, checkpoints and recent
 * log lines. Thread-safe: the training loop, the cluster and the log hook report from their own threads while the
 * HTTP server reads snapshots. Everything is bounded (rings), so a long run costs constant memory.
 *
 * <p>Subscribers get every change as a {@link Event} on the reporting thread; they must only hand it off.
 */
public final class RunMonitor implements RunListener {
  private static final Logger LOG = LoggerFactory.getLogger(RunMonitor.class);

  /**
   * A change: {@code type} is "step" ({@link StepRecord}), "members" (list of {@link Member}), "data"
   * ({@link DataHealth}), "checkpoint" ({@link CheckpointInfo}), "log" ({@link LogLine}) or "job" (a map of
   * {@code state} and {@code totalSteps}) or "samples" ({@link SampleSet}).
   */
  public record Event(String type, Object payload) {}

  /** Ring sizes. */
  public record Limits(int steps, int checkpoints, int logs) {
    public static final Limits DEFAULT = new Limits(4096, 64, 200);

    public Limits {
      if (steps < 1 || checkpoints < 1 || logs < 1) {
        throw new IllegalArgumentException("monitor limits must be positive: " + steps + ", " + checkpoints + ", " + logs);
      }
    }
  }

  private final Object lock = new Object();
  private final String job;
  private final Limits limits;
  private final long startedMillis = System.currentTimeMillis();
  private final ArrayDeque<StepRecord> series = new ArrayDeque<>();
  private final ArrayDeque<CheckpointInfo> checkpoints = new ArrayDeque<>();
  private final ArrayDeque<LogLine> logs = new ArrayDeque<>();
  private final Map<String, Member> members = new TreeMap<>();
  private final List<Consumer<Event>> subscribers = new CopyOnWriteArrayList<>();
  private String state = "starting";
  private long step = -1;
  private long totalSteps;
  private long tokensTotal;
  private long skippedSteps;
  private DataHealth data = DataHealth.EMPTY;
  private SampleSet samples;

  public RunMonitor(String job) {
    this(job, Limits.DEFAULT);
  }

  public RunMonitor(String job, Limits limits) {
    this.job = job == null ? "" : job;
    this.limits = limits;
  }

  @Override
  public void onStep(StepRecord r) {
    synchronized (lock) {
      push(series, r, limits.steps());
      step = Math.max(step, r.step());
      tokensTotal += r.tokens();
      if (r.skipped()) {
        skippedSteps++;
      }
      if ("starting".equals(state)) {
        state = "running";
      }
    }
    publish("step", r);
  }

  @Override
  public void onCheckpoint(long step, Path dir) {
    CheckpointInfo c = new CheckpointInfo(step, String.valueOf(dir), System.currentTimeMillis());
    synchronized (lock) {
      push(checkpoints, c, limits.checkpoints());
    }
    publish("checkpoint", c);
  }

  @Override
  public void onLog(String level, String logger, String message) {
    LogLine l = new LogLine(System.currentTimeMillis(), level, logger, message);
    synchronized (lock) {
      push(logs, l, limits.logs());
    }
    publish("log", l);
  }

  @Override
  public void onJobState(String newState) {
    synchronized (lock) {
      state = newState;
    }
    publishJob();
  }

  @Override
  public void onDataHealth(DataHealth health) {
    setDataHealth(health);
  }

  @Override
  public void onTotalSteps(long total) {
    setTotalSteps(total);
  }

  @Override
  public void onSamples(SampleSet s) {
    synchronized (lock) {
      samples = s;
    }
    publish("samples", s);
  }

  /** The latest samples, or null before the first. */
  public SampleSet latestSamples() {
    synchronized (lock) {
      return samples;
    }
  }

  /** The planned number of steps, for the progress display. */
  public void setTotalSteps(long total) {
    synchronized (lock) {
      totalSteps = total;
    }
    publishJob();
  }

  /** Adds or replaces a member (by name). */
  public void putMember(Member m) {
    List<Member> now;
    synchronized (lock) {
      members.put(m.name(), m);
      now = List.copyOf(members.values());
    }
    publish("members", now);
  }

  /** Replaces the whole member list, e.g. from a cluster membership snapshot. */
  public void setMembers(Collection<Member> all) {
    List<Member> now;
    synchronized (lock) {
      members.clear();
      for (Member m : all) {
        members.put(m.name(), m);
      }
      now = List.copyOf(members.values());
    }
    publish("members", now);
  }

  public void removeMember(String name) {
    List<Member> now;
    synchronized (lock) {
      if (members.remove(name) == null) {
        return;
      }
      now = List.copyOf(members.values());
    }
    publish("members", now);
  }

  public void setDataHealth(DataHealth health) {
    synchronized (lock) {
      data = health;
    }
    publish("data", health);
  }

  public String state() {
    synchronized (lock) {
      return state;
    }
  }

  public RunState snapshot() {
    synchronized (lock) {
      return new RunState(job, state, startedMillis, step, totalSteps, tokensTotal, skippedSteps,
          List.copyOf(series), List.copyOf(members.values()), data, List.copyOf(checkpoints), List.copyOf(logs));
    }
  }

  /** Registers a change listener; close the returned handle to stop. */
  public AutoCloseable subscribe(Consumer<Event> subscriber) {
    subscribers.add(subscriber);
    return () -> subscribers.remove(subscriber);
  }

  int subscriberCount() {
    return subscribers.size();
  }

  private void publishJob() {
    Map<String, Object> job;
    synchronized (lock) {
      job = Map.of("state", state, "totalSteps", totalSteps);
    }
    publish("job", job);
  }

  private void publish(String type, Object payload) {
    Event e = new Event(type, payload);
    for (Consumer<Event> s : subscribers) {
      try {
        s.accept(e);
      } catch (RuntimeException ex) {
        // A broken viewer must never stop training.
        LOG.debug("Dashboard subscriber failed on {}: {}", type, ex.toString());
      }
    }
  }

  private static <T> void push(ArrayDeque<T> ring, T item, int capacity) {
    ring.addLast(item);
    while (ring.size() > capacity) {
      ring.removeFirst();
    }
  }

  @Override
  public String toString() {
    synchronized (lock) {
      return "RunMonitor[" + job + ", step " + step + ", " + new ArrayList<>(members.keySet()) + "]";
    }
  }
}
