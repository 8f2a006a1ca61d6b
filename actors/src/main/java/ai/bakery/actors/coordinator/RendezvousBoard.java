package ai.bakery.actors.coordinator;

import ai.bakery.actors.CborSerializable;
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

/**
 * Where the ranks of a collective group find each other: each publishes its payload (a host:port, an
 * ncclUniqueId) under the group's key and all get every rank's payload once the last has published. Runs
 * next to the coordinator, so workers need no shared file system or fixed addresses.
 */
public final class RendezvousBoard extends AbstractBehavior<RendezvousBoard.Command> {
  public sealed interface Command extends CborSerializable {}

  public record Publish(String key, int rank, int worldSize, byte[] payload, ActorRef<Peers> replyTo)
      implements Command {}

  /** Every rank's payload, indexed by rank. */
  public record Peers(List<byte[]> payloads) implements CborSerializable {}

  /** Keys kept at most; the oldest gathering is dropped (its ranks time out and their group is re-formed). */
  static final int MAX_OPEN = 64;

  public static Behavior<Command> create() {
    return Behaviors.setup(RendezvousBoard::new);
  }

  private static final class Gathering {
    final byte[][] payloads;
    final List<ActorRef<Peers>> waiting = new ArrayList<>();
    int count;

    Gathering(int world) {
      payloads = new byte[world][];
    }
  }

  private final Map<String, Gathering> open = new java.util.LinkedHashMap<>();

  private RendezvousBoard(ActorContext<Command> ctx) {
    super(ctx);
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder().onMessage(Publish.class, this::onPublish).build();
  }

  private Behavior<Command> onPublish(Publish m) {
    if (m.rank() < 0 || m.rank() >= m.worldSize()) {
      getContext().getLog().warn("rendezvous {}: rank {} outside world {}", m.key(), m.rank(), m.worldSize());
      return this;
    }
    Gathering g = open.computeIfAbsent(m.key(), k -> new Gathering(m.worldSize()));
    if (g.payloads.length != m.worldSize()) {
      getContext().getLog().warn("rendezvous {}: rank {} says world {}, others said {}", m.key(), m.rank(),
          m.worldSize(), g.payloads.length);
      return this;
    }
    if (g.payloads[m.rank()] == null) {
      g.count++;
    }
    g.payloads[m.rank()] = m.payload();
    g.waiting.add(m.replyTo());
    if (g.count == m.worldSize()) {
      Peers peers = new Peers(List.of(g.payloads));
      g.waiting.forEach(r -> r.tell(peers));
      open.remove(m.key());
    } else if (open.size() > MAX_OPEN) {
      var it = open.keySet().iterator();
      it.next();
      it.remove();
    }
    return this;
  }
}
