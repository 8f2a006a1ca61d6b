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
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;

/**
 * Owns the job: membership and ranks, the step counter and the data ledger. The decisions live in
 * {@link JobLogic}; this actor only turns messages into its events and its effects into messages, and saves
 * the job snapshot after every commit and every new generation so a successor singleton resumes it. Workers
 * are death-watched: a worker that stops or whose node is removed from the cluster counts as failed. With
 * {@code bakery.cluster.lost-on-unreachable} (the default) a worker or data shard whose node the failure detector
 * finds unreachable counts as lost at once, before the split-brain resolver downs the node: the job stops waiting
 * for it seconds earlier, and a node that was only slow registers again and rejoins at a step boundary.
 */
public final class Coordinator extends AbstractBehavior<Coordinator.Command> {

  public sealed interface Command extends CborSerializable {}

  /** A worker offers itself for a rank. */
  public record Register(String worker, ActorRef<Worker.Command> replyTo) implements Command {}

  /** A worker got a preemption notice and leaves after its step. */
  public record Leaving(String worker) implements Command {}

  public record GroupReady(String worker, long generation) implements Command {}

  /** A worker could not build its group of {@code generation}. */
  public record GroupFailed(String worker, long generation, String reason) implements Command {}

  public record StepDone(String worker, long generation, long step, StepReport report) implements Command {
    public StepDone(String worker, long generation, long step) {
      this(worker, generation, step, StepReport.NONE);
    }
  }

  public record StepFailed(String worker, long generation, long step, String reason) implements Command {}

  /** Forming {@code generation}, no rank held the committed state: it must come from a checkpoint. */
  public record StateLost(String worker, long generation, String reason) implements Command {}

  /**
   * A rank's part of checkpoint {@code step} is durable ({@code part} -1: it writes none), after stalling its step
   * {@code stallMillis} and writing for {@code totalMillis}.
   */
  public record CheckpointPartSaved(String worker, long step, String saveId, int part, int parts,
      Map<String, String> stepFiles, long stallMillis, long totalMillis) implements Command {}

  public record CheckpointPartFailed(String worker, long step, String saveId, String reason) implements Command {}

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

  /** The coordinator's own write of a checkpoint's job state and COMPLETE finished ({@code error} null) or failed. */
  private record CheckpointWritten(long step, String saveId, String error) implements Command {}

  private record ShardTerminated(String shard, ActorRef<DataShard.Command> ref) implements Command {}

  private record HostsChanged(Receptionist.Listing listing) implements Command {}

  /** The failure detector's verdict on a node: unreachable, or reachable again. */
  private record Reachability(org.apache.pekko.actor.Address node, boolean reachable) implements Command {}

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
  /** The job's checkpoints (null: it saves none). */
  private final ClusterCheckpoints checkpoints;
  /** Writes COMPLETE off the actor's thread (fsyncs). */
  private final java.util.concurrent.ExecutorService committer = java.util.concurrent.Executors.newSingleThreadExecutor(
      r -> {
        Thread t = new Thread(r, "bakery-checkpoint-commit");
        t.setDaemon(true);
        return t;
      });
  /** Shards stopped to be restarted from the ledger (a rewind): their late registrations are ignored. */
  private final java.util.Set<ActorRef<DataShard.Command>> replacedShards = new java.util.HashSet<>();
  /** Shards ordered to restart whose new incarnation has not registered yet. */
  private final java.util.Set<String> restarting = new java.util.HashSet<>();
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
  /** Workers that said they leave (each says so every few seconds until released): logged once. */
  private final java.util.Set<String> leavers = new java.util.HashSet<>();
  /** Nodes the failure detector finds unreachable: no shard is placed there. */
  private final java.util.Set<org.apache.pekko.actor.Address> unreachable = new java.util.HashSet<>();
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
    this.checkpoints = store.checkpoints().orElse(null);
    this.logic = startLogic(ctx, policy, store, checkpoints);
    timers.startTimerWithFixedDelay(Tick.INSTANCE, tickEvery);
    ActorRef<Receptionist.Listing> listings = ctx.messageAdapter(Receptionist.Listing.class, HostsChanged::new);
    ctx.getSystem().receptionist().tell(Receptionist.subscribe(ShardHost.KEY, listings));
    var settings = ctx.getSystem().settings().config();
    if (settings.getString("pekko.actor.provider").equals("cluster")
        && (!settings.hasPath("bakery.cluster.lost-on-unreachable")
            || settings.getBoolean("bakery.cluster.lost-on-unreachable"))) {
      ActorRef<ClusterEvent.ReachabilityEvent> reach = ctx.messageAdapter(ClusterEvent.ReachabilityEvent.class,
          e -> new Reachability(e.member().address(), e instanceof ClusterEvent.ReachableMember));
      Cluster.get(ctx.getSystem()).subscriptions().tell(Subscribe.create(reach, ClusterEvent.ReachabilityEvent.class));
    }
  }

  /**
   * The job's logic from its stored snapshot and its newest complete checkpoint ({@link JobLogic#start}): a
   * fail-over or restart continues the stored state (going back to the checkpoint should no worker hold it); a job
   * without stored state starts from the checkpoint when it may ({@code auto_resume}).
   */
  private static JobLogic startLogic(ActorContext<Command> ctx, JobPolicy policy, JobStore store,
      ClusterCheckpoints checkpoints) {
    java.util.Optional<ai.bakery.actors.job.JobSnapshot> stored = store.load();
    java.util.Optional<ClusterCheckpoints.Found> latest = java.util.Optional.empty();
    if (checkpoints != null) {
      latest = checkpoints.scan().latest();
      latest.ifPresent(f -> ctx.getLog().info("newest complete checkpoint: job step {} in {}", f.checkpoint().step(),
          f.dir()));
    }
    if (checkpoints == null && policy.checkpointEvery() > 0) {
      ctx.getLog().warn("the job's store keeps no checkpoints: training.checkpoint.save_every is ignored");
      policy = policy.withCheckpoints(0, policy.checkpointTimeout());
    }
    JobLogic logic = JobLogic.start(policy, System::currentTimeMillis, stored,
        latest.map(ClusterCheckpoints.Found::checkpoint), checkpoints != null && checkpoints.resumeAtStart());
    if (logic.restoreStep() >= 0) {
      ctx.getLog().info("resuming job from its checkpoint at step {}", logic.restoreStep());
    } else if (stored.isPresent()) {
      ctx.getLog().info("resuming job at step {} (generation {})", stored.get().committedStep(),
          stored.get().generation());
    }
    return logic;
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Register.class, this::onRegister)
        .onMessage(Leaving.class, m -> {
          if (workers.containsKey(m.worker()) && leavers.add(m.worker())) {
            getContext().getLog().info("worker {} leaves (preemption notice): released after its step in flight",
                m.worker());
          }
          return apply(new JobEvent.WorkerDown(m.worker(), true));
        })
        .onMessage(GroupReady.class, m -> apply(new JobEvent.GroupReady(m.worker(), m.generation())))
        .onMessage(GroupFailed.class, m -> {
          getContext().getLog().warn("worker {} could not form generation {}: {}", m.worker(), m.generation(),
              m.reason());
          return apply(new JobEvent.GroupFailed(m.worker(), m.generation(), m.reason()));
        })
        .onMessage(StepDone.class, m -> {
          stepLine.report(m.worker(), m.generation(), m.step(), m.report());
          return apply(new JobEvent.StepDone(m.worker(), m.generation(), m.step()));
        })
        .onMessage(StepFailed.class,
            m -> apply(new JobEvent.StepFailed(m.worker(), m.generation(), m.step(), m.reason())))
        .onMessage(StateLost.class, m -> {
          getContext().getLog().warn("worker {}: generation {} holds no usable state: {}", m.worker(), m.generation(),
              m.reason());
          return apply(new JobEvent.StateLost(m.worker(), m.generation(), m.reason()));
        })
        .onMessage(CheckpointPartSaved.class, m -> {
          if (m.part() >= 0) {
            getContext().getLog().info("checkpoint of step {}: part {} of {} durable from {} (step stalled {} ms,"
                + " whole save {} ms)", m.step(), m.part(), m.parts(), m.worker(), m.stallMillis(), m.totalMillis());
          }
          return apply(new JobEvent.CheckpointPartSaved(m.worker(), m.step(), m.saveId(), m.part(), m.parts(),
              m.stepFiles()));
        })
        .onMessage(CheckpointPartFailed.class, m -> apply(new JobEvent.CheckpointPartFailed(m.worker(), m.step(),
            m.saveId(), m.reason())))
        .onMessage(CheckpointWritten.class, m -> {
          if (m.error() == null) {
            getContext().getLog().info("checkpoint of step {} complete in {}", m.step(), checkpoints.stepDir(m.step()));
            return apply(new JobEvent.CheckpointCommitted(m.step(), m.saveId()));
          }
          return apply(new JobEvent.CheckpointFailed(m.step(), m.saveId(), m.error()));
        })
        .onMessage(BatchesReady.class, this::onBatchesReady)
        .onMessage(RegisterShard.class, this::onRegisterShard)
        .onMessage(ShardEnded.class, this::onShardEnded)
        .onMessage(ShardTerminated.class, this::onShardTerminated)
        .onMessage(HostsChanged.class, m -> {
          hosts = List.copyOf(m.listing().getServiceInstances(ShardHost.KEY));
          return this;
        })
        .onMessage(DataEnd.class, m -> apply(new JobEvent.DataEnd()))
        .onMessage(WorkerTerminated.class, this::onTerminated)
        .onMessage(Reachability.class, this::onReachability)
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

  /**
   * Batches of a shard being restarted from an earlier position are ignored until its new incarnation registers:
   * announcements of the old one still on their way would otherwise queue batches ahead of the restart position,
   * which the new one packs only later (and its bounded store may never reach them).
   */
  private Behavior<Command> onBatchesReady(BatchesReady m) {
    if (restarting.isEmpty()) {
      return apply(new JobEvent.BatchesReady(m.batches(), m.positions()));
    }
    List<BatchId> batches = new ArrayList<>();
    List<String> positions = new ArrayList<>();
    for (int i = 0; i < m.batches().size(); i++) {
      if (!restarting.contains(m.batches().get(i).shard())) {
        batches.add(m.batches().get(i));
        positions.add(m.positions().get(i));
      }
    }
    return batches.isEmpty() ? this : apply(new JobEvent.BatchesReady(batches, positions));
  }

  private Behavior<Command> onRegisterShard(RegisterShard m) {
    if (replacedShards.contains(m.replyTo())) {
      return this; // stopped to be packed again from an earlier position: this incarnation serves nothing more
    }
    restarting.remove(m.shard());
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
    if (reachableHosts().isEmpty() || now - startedAt < 2 * Worker.REREGISTER.toMillis() || failure != null) {
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
    return shardLost(m.shard());
  }

  private Behavior<Command> shardLost(String shard) {
    shards.remove(shard);
    flight.remove(shard);
    starting.put(shard, System.currentTimeMillis());
    endedShards.remove(shard);
    return apply(new JobEvent.ShardLost(shard));
  }

  /**
   * An unreachable node's workers and data shards count as lost now (not when the node is downed and removed,
   * stable-after and a removal margin later); they are no longer watched. One that was merely slow registers
   * again: a worker as a new member, a shard as the shard's server again (it announces its unreleased batches
   * anew, so the ledger gets back what it dropped; an incarnation placed meanwhile elsewhere packs the same
   * batches under the same numbers, so either serves them).
   */
  private Behavior<Command> onReachability(Reachability m) {
    if (m.reachable()) {
      unreachable.remove(m.node());
      return this;
    }
    unreachable.add(m.node());
    for (var e : new ArrayList<>(workers.entrySet())) {
      if (e.getValue().path().address().equals(m.node())) {
        getContext().getLog().warn("worker {} is gone (node {} unreachable)", e.getKey(), m.node());
        getContext().unwatch(e.getValue());
        workers.remove(e.getKey());
        apply(new JobEvent.WorkerDown(e.getKey(), false));
      }
    }
    for (var e : new ArrayList<>(shards.entrySet())) {
      if (e.getValue().path().address().equals(m.node())) {
        getContext().getLog().warn("data shard {} is gone (node {} unreachable)", e.getKey(), m.node());
        getContext().unwatch(e.getValue());
        shardLost(e.getKey());
      }
    }
    return this;
  }

  private List<ActorRef<ShardHost.Command>> reachableHosts() {
    return hosts.stream().filter(h -> !unreachable.contains(h.path().address())).toList();
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
      // a successor must form a newer generation than any the workers have seen
      store.save(logic.snapshot());
      String restore = "";
      if (f.restores()) {
        restore = checkpoints.stepDir(f.restoreStep()).toString();
        getContext().getLog().info("generation {} loads checkpoint {}", f.generation(), restore);
      }
      for (String w : f.ranks()) {
        tell(w, new Worker.FormGroup(f.generation(), f.ranks(), f.committedStep(), restore));
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
    } else if (fx instanceof JobEffect.SaveCheckpoint sc) {
      String root = checkpoints.root().toString();
      for (String w : sc.ranks()) {
        tell(w, new Worker.SaveCheckpoint(sc.generation(), sc.step(), sc.saveId(), sc.ranks(), root));
      }
    } else if (fx instanceof JobEffect.CommitCheckpoint cc) {
      ActorRef<Command> self = getContext().getSelf();
      committer.execute(() -> {
        try {
          checkpoints.commit(cc);
          self.tell(new CheckpointWritten(cc.step(), cc.saveId(), null));
        } catch (RuntimeException e) {
          self.tell(new CheckpointWritten(cc.step(), cc.saveId(), e.getMessage()));
        }
      });
    } else if (fx instanceof JobEffect.CheckpointAbandoned ca) {
      getContext().getLog().warn("checkpoint of step {} abandoned (stays torn, never used): {}", ca.step(), ca.reason());
    } else if (fx instanceof JobEffect.Rewind rw) {
      getContext().getLog().warn("no worker holds committed step {} ({}): the job goes back to {}", rw.fromStep(),
          rw.reason(), rw.toStep() == 0 ? "the start (no complete checkpoint)" : "its checkpoint of step " + rw.toStep());
    } else if (fx instanceof JobEffect.Fail fail) {
      failure = fail.reason();
      getContext().getLog().error("job failed: {}", failure);
    } else if (fx instanceof JobEffect.RestartShard r) {
      stopForRestart(r.shard());
      List<ActorRef<ShardHost.Command>> reachable = reachableHosts();
      if (reachable.isEmpty()) {
        // placed once a data node is up: the ledger says again where the shard resumes
        getContext().getLog().warn("data shard {} lost and no reachable data node to restart it on yet", r.shard());
        starting.remove(r.shard());
        return;
      }
      ActorRef<ShardHost.Command> host = reachable.get(Math.floorMod(nextHost++, reachable.size()));
      host.tell(new ShardHost.StartShard(r.shard(), r.fromSeq(), r.position(), r.alreadyTrained()));
    } else if (fx instanceof JobEffect.Release r) {
      tell(r.worker(), Worker.Release.INSTANCE);
      // it goes now: its actor stopping and its node leaving the cluster are no loss
      leavers.remove(r.worker());
      ActorRef<Worker.Command> ref = workers.remove(r.worker());
      if (ref != null) {
        getContext().unwatch(ref);
        getContext().getLog().info("worker {} released: it left gracefully", r.worker());
      }
    }
  }

  /**
   * A shard still running is restarted (a rewind): it stops, and its replacement packs again from the ledger's
   * position. The host starts the replacement only once the old one stopped (they share its batch store).
   */
  private void stopForRestart(String shard) {
    restarting.add(shard);
    ActorRef<DataShard.Command> running = shards.remove(shard);
    if (running != null) {
      getContext().unwatch(running);
      replacedShards.add(running);
    }
    flight.remove(shard);
    endedShards.remove(shard);
    starting.put(shard, System.currentTimeMillis());
    // also where it may still be starting, unregistered
    for (ActorRef<ShardHost.Command> host : hosts) {
      host.tell(new ShardHost.StopShard(shard));
    }
  }

  private void tell(String worker, Worker.Command msg) {
    ActorRef<Worker.Command> ref = workers.get(worker);
    if (ref != null) {
      ref.tell(msg);
    }
  }
}
