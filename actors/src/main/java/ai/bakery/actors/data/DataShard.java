package ai.bakery.actors.data;

import ai.bakery.actors.CborSerializable;
import ai.bakery.actors.coordinator.Coordinator;
import ai.bakery.actors.flight.BatchStore;
import ai.bakery.actors.job.BatchId;
import java.util.List;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * Owns one shard of the dataset: packs batches ahead on its own thread into the {@link BatchStore} that
 * its node's Flight server serves, announces them to the coordinator, and drops them once committed. The
 * store is bounded, so packing never runs further ahead than the job consumes.
 */
public final class DataShard extends AbstractBehavior<DataShard.Command> {

  public sealed interface Command extends CborSerializable {}

  /** These batches are trained: free them. */
  public record Committed(List<BatchId> batches) implements Command {}

  private record Packed(BatchId id, String positionAfter) implements Command {}

  private enum Ended implements Command {
    INSTANCE
  }

  private record Failed(String error) implements Command {}

  private enum Reregister implements Command {
    INSTANCE
  }

  /**
   * @param fromSeq the sequence number of the first batch the source yields
   * @param skip sequence numbers already trained: packed (to advance the source) but not served
   */
  public static Behavior<Command> create(String name, ActorRef<Coordinator.Command> coordinator, BatchSource source,
      BatchStore store, long fromSeq, Set<Long> skip) {
    return create(name, coordinator, source, store, fromSeq, skip, "");
  }

  /** @param flight the URI of the Flight server that serves {@code store} (workers fetch from it) */
  public static Behavior<Command> create(String name, ActorRef<Coordinator.Command> coordinator, BatchSource source,
      BatchStore store, long fromSeq, Set<Long> skip, String flight) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      // registering again lets a coordinator that moved find the shard
      timers.startTimerWithFixedDelay(Reregister.INSTANCE, ai.bakery.actors.worker.Worker.REREGISTER);
      return new DataShard(ctx, name, coordinator, source, store, fromSeq, skip, flight);
    }));
  }

  private final String name;
  private final ActorRef<Coordinator.Command> coordinator;
  private final BatchSource source;
  private final BatchStore store;
  private final Thread packer;
  private final String flight;
  /**
   * Batches announced and not yet committed, with the position after each: announced again with every
   * registration, so a coordinator that took over from a snapshot older than some announcements still learns of
   * them (the ledger ignores batches it knows).
   */
  private final java.util.LinkedHashMap<BatchId, String> unreleased = new java.util.LinkedHashMap<>();

  private DataShard(ActorContext<Command> ctx, String name, ActorRef<Coordinator.Command> coordinator,
      BatchSource source, BatchStore store, long fromSeq, Set<Long> skip, String flight) {
    super(ctx);
    this.name = name;
    this.coordinator = coordinator;
    this.source = source;
    this.store = store;
    this.flight = flight;
    coordinator.tell(new Coordinator.RegisterShard(name, ctx.getSelf(), flight));
    ActorRef<Command> self = ctx.getSelf();
    this.packer = new Thread(() -> pack(self, fromSeq, Set.copyOf(skip)), "bakery-pack-" + name);
    packer.setDaemon(true);
    packer.start();
  }

  private void pack(ActorRef<Command> self, long fromSeq, Set<Long> skip) {
    try {
      for (long seq = fromSeq; !Thread.currentThread().isInterrupted(); seq++) {
        var next = source.next();
        if (next.isEmpty()) {
          self.tell(Ended.INSTANCE);
          return;
        }
        if (skip.contains(seq)) {
          continue;
        }
        BatchId id = new BatchId(name, seq);
        store.put(id, next.get());
        self.tell(new Packed(id, source.position()));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      self.tell(new Failed(e.toString()));
    }
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Packed.class, this::onPacked)
        .onMessage(Committed.class, this::onCommitted)
        .onMessage(Reregister.class, m -> {
          coordinator.tell(new Coordinator.RegisterShard(name, getContext().getSelf(), flight));
          if (!unreleased.isEmpty()) {
            coordinator.tell(new Coordinator.BatchesReady(List.copyOf(unreleased.keySet()),
                List.copyOf(unreleased.values())));
          }
          return this;
        })
        .onMessage(Ended.class, m -> {
          coordinator.tell(new Coordinator.ShardEnded(name));
          return this;
        })
        .onMessage(Failed.class, m -> {
          // Stopping (not restarting here) lets the coordinator see the loss and restart the shard from the
          // position after its last trained batch, which only the coordinator's ledger knows.
          getContext().getLog().error("data shard {} failed: {}", name, m.error());
          return Behaviors.stopped();
        })
        .onSignal(PostStop.class, s -> {
          packer.interrupt();
          source.close();
          store.releaseShard(name);
          return this;
        })
        .build();
  }

  private Behavior<Command> onPacked(Packed m) {
    unreleased.put(m.id(), m.positionAfter());
    coordinator.tell(new Coordinator.BatchesReady(List.of(m.id()), List.of(m.positionAfter())));
    return this;
  }

  private Behavior<Command> onCommitted(Committed m) {
    for (BatchId b : m.batches()) {
      if (b.shard().equals(name)) {
        unreleased.remove(b);
        store.release(b);
      }
    }
    return this;
  }
}
