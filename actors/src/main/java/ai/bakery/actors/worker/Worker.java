package ai.bakery.actors.worker;

import ai.bakery.actors.CborSerializable;
import ai.bakery.actors.coordinator.Coordinator;
import ai.bakery.actors.job.BatchId;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * One per device. Takes orders from the coordinator and drives a {@link StepExecutor}; the executor's long
 * work runs off this actor's thread and comes back as private messages. Orders of an older generation than
 * the one it is in are ignored.
 */
public final class Worker extends AbstractBehavior<Worker.Command> {

  public sealed interface Command extends CborSerializable {}

  /** @param restoreFrom a checkpoint step folder every rank loads its state from ("": the ranks hold it) */
  public record FormGroup(long generation, List<String> ranks, long committedStep, String restoreFrom)
      implements Command {
    public FormGroup(long generation, List<String> ranks, long committedStep) {
      this(generation, ranks, committedStep, "");
    }
  }

  /**
   * Save this rank's part of committed step {@code step} under checkpoint folder {@code root}; {@code ranks} is the
   * group that committed it.
   */
  public record SaveCheckpoint(long generation, long step, String saveId, List<String> ranks, String root)
      implements Command {}

  /** Step {@code step}'s batches for this rank; {@code sources} says where each shard serves them. */
  public record RunStep(long generation, long step, List<BatchId> batches, Map<String, String> sources)
      implements Command {
    public RunStep(long generation, long step, List<BatchId> batches) {
      this(generation, step, batches, Map.of());
    }
  }

  public record Commit(long step) implements Command {}

  public record Abort(long generation, long step) implements Command {}

  /** The coordinator no longer needs this worker (after a graceful leave). */
  public enum Release implements Command {
    INSTANCE
  }

  /** The job finished at {@code committedStep}: the executor writes what the job keeps, then the worker stops. */
  public record JobDone(long committedStep) implements Command {}

  /** A preemption notice (SIGTERM): finish the step in flight, then go. */
  public enum Preempted implements Command {
    INSTANCE
  }

  private record GroupFormed(long generation, String error, boolean stateLost) implements Command {}

  private record PartWritten(long step, String saveId, CheckpointWriter.Part part, String error) implements Command {}

  private record StepComputed(long generation, long step, StepReport report, String error) implements Command {}

  private enum Reregister implements Command {
    INSTANCE
  }

  private record Finished(String error) implements Command {}

  /** How often a worker registers again, so a coordinator that moved (or presumed it dead) finds it. */
  public static final java.time.Duration REREGISTER = java.time.Duration.ofSeconds(2);

  public static Behavior<Command> create(String id, ActorRef<Coordinator.Command> coordinator, StepExecutor executor) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      timers.startTimerWithFixedDelay(Reregister.INSTANCE, REREGISTER);
      return new Worker(ctx, id, coordinator, executor);
    }));
  }

  private final String id;
  private final ActorRef<Coordinator.Command> coordinator;
  private final StepExecutor executor;
  private long generation = -1;
  /** A preemption notice came: no new group is joined, and the coordinator hears Leaving instead of Register. */
  private boolean leaving;

  private Worker(ActorContext<Command> ctx, String id, ActorRef<Coordinator.Command> coordinator,
      StepExecutor executor) {
    super(ctx);
    this.id = id;
    this.coordinator = coordinator;
    this.executor = executor;
    coordinator.tell(new Coordinator.Register(id, ctx.getSelf()));
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(FormGroup.class, this::onFormGroup)
        .onMessage(GroupFormed.class, this::onGroupFormed)
        .onMessage(RunStep.class, this::onRunStep)
        .onMessage(StepComputed.class, this::onStepComputed)
        .onMessage(Commit.class, this::onCommit)
        .onMessage(SaveCheckpoint.class, this::onSaveCheckpoint)
        .onMessage(PartWritten.class, this::onPartWritten)
        .onMessage(Abort.class, this::onAbort)
        .onMessage(Preempted.class, this::onPreempted)
        .onMessage(Reregister.class, m -> {
          // a leaver says so again: the first word may have gone to a coordinator that moved
          coordinator.tell(leaving ? new Coordinator.Leaving(id) : new Coordinator.Register(id, getContext().getSelf()));
          return this;
        })
        .onMessage(JobDone.class, this::onJobDone)
        .onMessage(Finished.class, m -> {
          if (m.error() != null) {
            getContext().getLog().error("{}: finishing the job failed: {}", id, m.error());
          }
          return Behaviors.stopped();
        })
        .onMessage(Release.class, m -> {
          getContext().getLog().info("{}: released by the coordinator", id);
          return Behaviors.stopped();
        })
        .build();
  }

  private Behavior<Command> onFormGroup(FormGroup m) {
    if (m.generation() < generation || leaving) {
      return this; // a leaver joins no group: the coordinator forms the next without it once it hears Leaving
    }
    generation = m.generation();
    int rank = m.ranks().indexOf(id);
    java.nio.file.Path restore = m.restoreFrom() == null || m.restoreFrom().isEmpty() ? null
        : java.nio.file.Path.of(m.restoreFrom());
    getContext().pipeToSelf(executor.formGroup(m.generation(), rank, m.ranks(), m.committedStep(), restore),
        (ok, err) -> new GroupFormed(m.generation(), err == null ? null : describe(err),
            rootCause(err) instanceof StateUnavailableException));
    return this;
  }

  private Behavior<Command> onGroupFormed(GroupFormed m) {
    if (m.generation() != generation) {
      return this;
    }
    if (m.stateLost()) {
      getContext().getLog().warn("{}: generation {} holds no usable state: {}", id, m.generation(), m.error());
      coordinator.tell(new Coordinator.StateLost(id, m.generation(), m.error()));
      return this;
    }
    if (m.error() != null) {
      getContext().getLog().warn("{}: forming generation {} failed: {}", id, m.generation(), m.error());
      coordinator.tell(new Coordinator.GroupFailed(id, m.generation(), m.error()));
      return this;
    }
    coordinator.tell(new Coordinator.GroupReady(id, m.generation()));
    return this;
  }

  private Behavior<Command> onRunStep(RunStep m) {
    if (m.generation() != generation) {
      return this;
    }
    getContext().pipeToSelf(executor.computeStep(m.generation(), m.step(), m.batches(), m.sources()),
        (report, err) -> new StepComputed(m.generation(), m.step(), report, err == null ? null : describe(err)));
    return this;
  }

  private Behavior<Command> onStepComputed(StepComputed m) {
    if (m.generation() != generation) {
      return this;
    }
    if (m.error() == null) {
      coordinator.tell(new Coordinator.StepDone(id, m.generation(), m.step(),
          m.report() == null ? StepReport.NONE : m.report()));
    } else {
      coordinator.tell(new Coordinator.StepFailed(id, m.generation(), m.step(), m.error()));
    }
    return this;
  }

  private Behavior<Command> onCommit(Commit m) {
    executor.commit(m.step());
    return this;
  }

  private Behavior<Command> onAbort(Abort m) {
    executor.abort(m.generation(), m.step());
    return this;
  }

  private Behavior<Command> onJobDone(JobDone m) {
    getContext().pipeToSelf(executor.finish(m.committedStep()),
        (ok, err) -> new Finished(err == null ? null : describe(err)));
    return this;
  }

  /** The root cause's message: stages wrap failures in CompletionException. */
  static String describe(Throwable err) {
    Throwable t = rootCause(err);
    return t.getMessage() == null ? t.toString() : t.getMessage();
  }

  static Throwable rootCause(Throwable err) {
    Throwable t = err;
    while ((t instanceof java.util.concurrent.CompletionException
        || t instanceof java.util.concurrent.ExecutionException) && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  /** A checkpoint's part is written whatever generations follow: it describes the committed step. */
  private Behavior<Command> onSaveCheckpoint(SaveCheckpoint m) {
    getContext().pipeToSelf(executor.saveCheckpoint(m.step(), m.saveId(), m.ranks(), m.ranks().indexOf(id),
            java.nio.file.Path.of(m.root())),
        (part, err) -> new PartWritten(m.step(), m.saveId(), part, err == null ? null : describe(err)));
    return this;
  }

  private Behavior<Command> onPartWritten(PartWritten m) {
    if (m.error() != null) {
      coordinator.tell(new Coordinator.CheckpointPartFailed(id, m.step(), m.saveId(), m.error()));
    } else {
      CheckpointWriter.Part p = m.part();
      coordinator.tell(new Coordinator.CheckpointPartSaved(id, m.step(), m.saveId(), p.part(), p.parts(),
          p.stepFiles(), p.stallNanos() / 1_000_000, p.totalNanos() / 1_000_000));
    }
    return this;
  }

  /** The step in flight, if any, still runs and reports: the coordinator commits it, then releases this worker. */
  private Behavior<Command> onPreempted(Preempted m) {
    if (!leaving) {
      getContext().getLog().info("{}: preemption notice: leaving the job after the step in flight", id);
    }
    leaving = true;
    coordinator.tell(new Coordinator.Leaving(id));
    return this;
  }
}
