package ai.bakery.actors.data;

import ai.bakery.actors.CborSerializable;
import ai.bakery.actors.coordinator.Coordinator;
import ai.bakery.actors.flight.BatchStore;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;

/**
 * The data role of a node: starts {@link DataShard}s on the coordinator's orders, all feeding this node's
 * {@link BatchStore} (served by its Flight server). Found by the coordinator through the receptionist.
 */
public final class ShardHost extends AbstractBehavior<ShardHost.Command> {
  public static final ServiceKey<Command> KEY = ServiceKey.create(Command.class, "bakery-shard-host");

  public sealed interface Command extends CborSerializable {}

  /** Start (or restart) shard {@code shard} from {@code position}, numbering batches from {@code fromSeq}. */
  public record StartShard(String shard, long fromSeq, String position, Set<Long> skip) implements Command {}

  /**
   * Stop shard {@code shard} if it runs here (it is to be packed again from an earlier position); a {@link StartShard}
   * of it that follows waits until it has stopped, since both would share this node's batch store.
   */
  public record StopShard(String shard) implements Command {}

  private record ShardStopped(String shard, ActorRef<DataShard.Command> ref) implements Command {}

  /** The job is over: stop every shard and this host. */
  public enum JobDone implements Command {
    INSTANCE
  }

  public static Behavior<Command> create(ActorRef<Coordinator.Command> coordinator, BatchSource.Factory sources,
      BatchStore store) {
    return create(coordinator, sources, store, "");
  }

  /** @param flight the URI of this node's Flight server, which serves {@code store} */
  public static Behavior<Command> create(ActorRef<Coordinator.Command> coordinator, BatchSource.Factory sources,
      BatchStore store, String flight) {
    return Behaviors.setup(ctx -> new ShardHost(ctx, coordinator, sources, store, flight));
  }

  private final ActorRef<Coordinator.Command> coordinator;
  private final BatchSource.Factory sources;
  private final BatchStore store;
  private final String flight;
  private final java.util.Map<String, ActorRef<DataShard.Command>> running = new java.util.HashMap<>();
  /** Shards told to stop and not stopped yet, and the start waiting for each. */
  private final java.util.Map<String, ActorRef<DataShard.Command>> stopping = new java.util.HashMap<>();
  private final java.util.Map<String, StartShard> deferred = new java.util.HashMap<>();
  private int incarnation;

  private ShardHost(ActorContext<Command> ctx, ActorRef<Coordinator.Command> coordinator,
      BatchSource.Factory sources, BatchStore store, String flight) {
    super(ctx);
    this.flight = flight;
    this.coordinator = coordinator;
    this.sources = sources;
    this.store = store;
    ctx.getSystem().receptionist().tell(Receptionist.register(KEY, ctx.getSelf()));
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(StartShard.class, this::onStart)
        .onMessage(ShardStopped.class, m -> {
          running.remove(m.shard(), m.ref());
          if (stopping.remove(m.shard(), m.ref())) {
            StartShard next = deferred.remove(m.shard());
            if (next != null) {
              return onStart(next);
            }
          }
          return this;
        })
        .onMessage(StopShard.class, m -> {
          ActorRef<DataShard.Command> shard = running.remove(m.shard());
          if (shard != null) {
            getContext().getLog().info("stopping data shard {} (it restarts from an earlier position)", m.shard());
            stopping.put(m.shard(), shard);
            getContext().stop(shard);
          }
          return this;
        })
        .onMessage(JobDone.class, m -> {
          getContext().getLog().info("job finished: data shards stop");
          return Behaviors.stopped();
        })
        .build();
  }

  private Behavior<Command> onStart(StartShard m) {
    if (stopping.containsKey(m.shard())) {
      deferred.put(m.shard(), m); // its old incarnation still releases its batches from the store
      return this;
    }
    if (running.containsKey(m.shard())) {
      // an order repeated while the shard was starting: it registers with the coordinator on its own
      getContext().getLog().info("data shard {} already runs here", m.shard());
      return this;
    }
    try {
      BatchSource source = sources.open(m.shard(), m.position());
      ActorRef<DataShard.Command> shard = getContext().spawn(
          DataShard.create(m.shard(), coordinator, source, store, m.fromSeq(), m.skip(), flight),
          "shard-" + m.shard() + "-" + (incarnation++));
      running.put(m.shard(), shard);
      getContext().watchWith(shard, new ShardStopped(m.shard(), shard));
      getContext().getLog().info("data shard {} started at batch {}", m.shard(), m.fromSeq());
    } catch (Exception e) {
      getContext().getLog().error("cannot open data shard {} at {}: {}", m.shard(), m.position(), e.toString());
    }
    return this;
  }
}
