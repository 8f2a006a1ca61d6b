package ai.bakery.actors.coordinator;

import ai.bakery.actors.CborSerializable;
import ai.bakery.actors.data.DataShard;
import ai.bakery.actors.data.ShardHost;
import ai.bakery.actors.job.BatchId;
import ai.bakery.actors.job.JobEffect;
import ai.bakery.actors.job.JobEvent;
import ai.bakery.actors.job.JobLogic;
import ai.bakery.actors.job.JobPolicy;
import ai.bakery.actors.worker.StepReport;
import ai.bakery.actors.worker.Worker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.receptionist.Receptionist;

/**
 * Owns the job: membership and ranks, the step counter and the data ledger. The decisions live in
 * {@link JobLogic}; this actor only turns messages into its events and its effects into messages, and saves
 * the job snapshot after every commit so a successor singleton resumes it. Workers are death-watched: a
 * worker that stops or whose node is removed from the cluster counts as failed.
 */
public final class Coordinator extends AbstractBehavior<Coordinator.Command> {

  public sealed interface Command extends CborSerializable {}

  /** A worker offers itself for a rank. */
  public record Register(String worker, ActorRef<Worker.Command> replyTo) implements Command {}

  /** A worker got a preemption notice and leaves after its step. */
  public record Leaving(String worker) implements Command {}

  public record GroupReady(String worker, long generation) implements Command {}

  public record StepDone(String worker, long generation, long step, StepReport report) implements Command {
    public StepDone(String worker, long generation, long step) {
      this(worker, generation, step, StepReport.NONE);
    }
  }

  public record StepFailed(String worker, long generation, long step, String reason) implements Command {}

  /** Data shards announce batches they can serve, each with the shard's position right after it. */
  public record BatchesReady(List<BatchId> batches, List<String> positions) implements Command {
    public BatchesReady(List<BatchId> batches) {
      this(batches, java.util.Collections.nCopies(batches.size(), ""));
    }
  }

  /**
   * A data shard offers its batches, served by the Flight server at {@code flight} (a URI; empty when its
   * batches travel another way); it is death-watched so a lost shard is restarted elsewhere.
   */
  public record RegisterShard(String shard, ActorRef<DataShard.Command> replyTo, String flight) implements Command {
    public RegisterShard(String shard, ActorRef<DataShard.Command> replyTo) {
      this(shard, replyTo, "");
    }
  }

  /** A data shard served its last batch. */
  public record ShardEnded(String shard) implements Command {}

  public enum DataEnd implements Command {
    INSTANCE
  }

  public record GetStatus(ActorRef<Status> replyTo) implements Command {}

  /** {@code phase} is {@code finished} once the job is done and {@code failed} when it gave up. */
  public record Status(String phase, long generation, long committedStep, List<String> members, int queued)
      implements CborSerializable {}

  private record WorkerTerminated(String worker) implements Command {}

  private record ShardTerminated(String shard, ActorRef<DataShard.Command> ref) implements Command {}

  private record HostsChanged(Receptionist.Listing listing) implements Command {}

  private enum Tick implements Command {
    INSTANCE
  }

  public static Behavior<Command> create(JobPolicy policy, JobStore store, Duration tickEvery) {
    return create(policy, store, tickEvery, List.of(), 0);
  }

  /**
   * @param dataShards the job's data shards: each is started on a data node (found through the receptionist)
   *     when it is not running, from where the ledger says it stands
   * @param maxFailedSteps the job fails after this many aborted steps in a row (0: never gives up)
   */
  public static Behavior<Command> create(JobPolicy policy, JobStore store, Duration tickEvery, List<String> dataShards,
      int maxFailedSteps) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(
        timers -> new Coordinator(ctx, timers, policy, store, tickEvery, dataShards, maxFailedSteps)));
  }

  private final JobLogic logic;
  private final JobStore store;
  private final Map<String, ActorRef<Worker.Command>> workers = new HashMap<>();
  private final Map<String, ActorRef<DataShard.Command>> shards = new HashMap<>();
  private final java.util.Set<String> endedShards = new java.util.HashSet<>();
  private final Map<String, String> flight = new HashMap<>();
  private final List<String> dataShards;
  /** Shards asked to start, with when: asked again when they have not registered within PLACEMENT_WAIT. */
  private final Map<String, Long> starting = new HashMap<>();
  private final int maxFailedSteps;
  private final long startedAt = System.currentTimeMillis();
  private final StepLine stepLine = new StepLine();
  private List<ActorRef<ShardHost.Command>> hosts = List.of();
  private int nextHost;
  private int failedInARow;
  private String failure;
  private boolean announcedEnd;

  /** A shard asked to start and not registered after this long is asked for again (its host may be gone). */
  static final long PLACEMENT_WAIT = 60_000;

  private Coordinator(ActorContext<Command> ctx, TimerScheduler<Command> timers, JobPolicy policy, JobStore store,
      Duration tickEvery, List<String> dataShards, int maxFailedSteps) {
    super(ctx);
    // named for this class: under Pekko's default name the job's progress lines fell under org.apache.pekko (WARN in
    // the CLI's logback.xml), so `cluster up` printed no step or generation line
    ctx.setLoggerName(Coordinator.class);
    this.store = store;
    this.dataShards = List.copyOf(dataShards);
    this.maxFailedSteps = maxFailedSteps;
    this.logic = store.load()
        .map(s -> {
          ctx.getLog().info("resuming job at step {} (generation {})", s.committedStep(), s.generation());
          return s.resume(policy, System::currentTimeMillis);
        })
        .orElseGet(() -> new JobLogic(policy, System::currentTimeMillis));
    timers.startTimerWithFixedDelay(Tick.INSTANCE, tickEvery);
    ActorRef<Receptionist.Listing> listings = ctx.messageAdapter(Receptionist.Listing.class, HostsChanged::new);
    ctx.getSystem().receptionist().tell(Receptionist.subscribe(ShardHost.KEY, listings));
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Register.class, this::onRegister)
        .onMessage(Leaving.class, m -> apply(new JobEvent.WorkerDown(m.worker(), true)))
        .onMessage(GroupReady.class, m -> apply(new JobEvent.GroupReady(m.worker(), m.generation())))
        .onMessage(StepDone.class, m -> {
          stepLine.report(m.worker(), m.generation(), m.step(), m.report());
          return apply(new JobEvent.StepDone(m.worker(), m.generation(), m.step()));
        })
        .onMessage(StepFailed.class,
            m -> apply(new JobEvent.StepFailed(m.worker(), m.generation(), m.step(), m.reason())))
        .onMessage(BatchesReady.class, m -> apply(new JobEvent.BatchesReady(m.batches(), m.positions())))
        .onMessage(RegisterShard.class, this::onRegisterShard)
        .onMessage(ShardEnded.class, this::onShardEnded)
        .onMessage(ShardTerminated.class, this::onShardTerminated)
        .onMessage(HostsChanged.class, m -> {
          hosts = List.copyOf(m.listing().getServiceInstances(ShardHost.KEY));
          return this;
        })
        .onMessage(DataEnd.class, m -> apply(new JobEvent.DataEnd()))
        .onMessage(WorkerTerminated.class, this::onTerminated)
        .onMessage(Tick.class, m -> {
          placeShards();
          return apply(new JobEvent.Tick());
        })
        .onMessage(GetStatus.class, this::onGetStatus)
        .build();
  }

  private Behavior<Command> onRegister(Register m) {
    ActorRef<Worker.Command> previous = workers.put(m.worker(), m.replyTo());
    if (previous == null || !previous.equals(m.replyTo())) {
      getContext().watchWith(m.replyTo(), new WorkerTerminated(m.worker()));
    }
    return apply(new JobEvent.WorkerUp(m.worker()));
  }

  private Behavior<Command> onRegisterShard(RegisterShard m) {
    ActorRef<DataShard.Command> previous = shards.put(m.shard(), m.replyTo());
    flight.put(m.shard(), m.flight());
    starting.remove(m.shard());
    if (!m.replyTo().equals(previous)) {
      endedShards.remove(m.shard());
      getContext().watchWith(m.replyTo(), new ShardTerminated(m.shard(), m.replyTo()));
    }
    return this;
  }

  /** Starts each of the job's shards that runs nowhere, once data nodes are known and registrations had time. */
  private void placeShards() {
    long now = System.currentTimeMillis();
    // shards and workers register again every few seconds: a new coordinator first waits for those of its job
    if (hosts.isEmpty() || now - startedAt < 2 * Worker.REREGISTER.toMillis() || failure != null) {
      return;
    }
    for (String shard : dataShards) {
      Long asked = starting.get(shard);
      if (shards.containsKey(shard) || (asked != null && now - asked < PLACEMENT_WAIT)) {
        continue;
      }
      starting.put(shard, now);
      getContext().getLog().info("placing data shard {}", shard);
      // the ledger says where it resumes (its start for a new job); a step using it cannot be running
      apply(new JobEvent.ShardLost(shard));
    }
  }

  private Behavior<Command> onShardEnded(ShardEnded m) {
    endedShards.add(m.shard());
    if (endedShards.containsAll(shards.keySet())) {
      return apply(new JobEvent.DataEnd());
    }
    return this;
  }

  private Behavior<Command> onShardTerminated(ShardTerminated m) {
    if (!m.ref().equals(shards.get(m.shard()))) {
      return this; // an older incarnation
    }
    getContext().getLog().warn("data shard {} is gone", m.shard());
    shards.remove(m.shard());
    flight.remove(m.shard());
    starting.put(m.shard(), System.currentTimeMillis());
    endedShards.remove(m.shard());
    return apply(new JobEvent.ShardLost(m.shard()));
  }

  private Behavior<Command> onTerminated(WorkerTerminated m) {
    getContext().getLog().warn("worker {} is gone", m.worker());
    workers.remove(m.worker());
    return apply(new JobEvent.WorkerDown(m.worker(), false));
  }

  private Behavior<Command> onGetStatus(GetStatus m) {
    m.replyTo().tell(new Status(failure != null ? "failed" : logic.phaseName(), logic.generation(), logic.committedStep(),
        new ArrayList<>(workers.keySet()), logic.ledger().available()));
    return this;
  }

  private Behavior<Command> apply(JobEvent event) {
    if (failure != null) {
      return this;
    }
    for (JobEffect fx : logic.handle(event)) {
      perform(fx);
    }
    if ((logic.finished() || failure != null) && !announcedEnd) {
      announcedEnd = true;
      if (failure == null) {
        getContext().getLog().info("job finished at step {}", logic.committedStep());
      }
      for (ActorRef<Worker.Command> ref : workers.values()) {
        ref.tell(failure == null ? new Worker.JobDone(logic.committedStep()) : Worker.Release.INSTANCE);
      }
      for (ActorRef<ShardHost.Command> host : hosts) {
        host.tell(ShardHost.JobDone.INSTANCE);
      }
    }
    return this;
  }

  private void perform(JobEffect fx) {
    if (fx instanceof JobEffect.FormGroup f) {
      getContext().getLog().info("generation {}: ranks {} from step {}", f.generation(), f.ranks(), f.committedStep());
      for (String w : f.ranks()) {
        tell(w, new Worker.FormGroup(f.generation(), f.ranks(), f.committedStep()));
      }
    } else if (fx instanceof JobEffect.RunStep r) {
      stepLine.started(r.generation(), r.step(), r.assignment().keySet());
      r.assignment().forEach((w, batches) -> {
        Map<String, String> sources = new HashMap<>();
        for (BatchId b : batches) {
          sources.put(b.shard(), flight.getOrDefault(b.shard(), ""));
        }
        tell(w, new Worker.RunStep(r.generation(), r.step(), batches, sources));
      });
    } else if (fx instanceof JobEffect.Commit c) {
      store.save(logic.snapshot());
      failedInARow = 0;
      stepLine.committed(c.step()).ifPresent(line -> getContext().getLog().info(line));
      for (ActorRef<Worker.Command> ref : workers.values()) {
        ref.tell(new Worker.Commit(c.step()));
      }
      for (ActorRef<DataShard.Command> ref : shards.values()) {
        ref.tell(new DataShard.Committed(c.batches()));
      }
    } else if (fx instanceof JobEffect.AbortStep a) {
      getContext().getLog().warn("step {} aborted: {}", a.step(), a.reason());
      if (maxFailedSteps > 0 && ++failedInARow >= maxFailedSteps) {
        failure = failedInARow + " steps in a row aborted, the last: " + a.reason();
        getContext().getLog().error("job failed: {}", failure);
      }
      for (ActorRef<Worker.Command> ref : workers.values()) {
        ref.tell(new Worker.Abort(a.generation(), a.step()));
      }
    } else if (fx instanceof JobEffect.Waiting w) {
      getContext().getLog().warn("waiting for workers: {} of at least {}", w.workers(), w.minWorkers());
    } else if (fx instanceof JobEffect.RestartShard r) {
      if (hosts.isEmpty()) {
        getContext().getLog().error("data shard {} lost and no data node to restart it on", r.shard());
        return;
      }
      ActorRef<ShardHost.Command> host = hosts.get(Math.floorMod(nextHost++, hosts.size()));
      host.tell(new ShardHost.StartShard(r.shard(), r.fromSeq(), r.position(), r.alreadyTrained()));
    } else if (fx instanceof JobEffect.Release r) {
      tell(r.worker(), Worker.Release.INSTANCE);
    }
  }

  private void tell(String worker, Worker.Command msg) {
    ActorRef<Worker.Command> ref = workers.get(worker);
    if (ref != null) {
      ref.tell(msg);
    }
  }
}
