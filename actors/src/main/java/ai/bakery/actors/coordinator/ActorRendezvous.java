package ai.bakery.actors.coordinator;

import ai.bakery.runtime.collective.CollectiveException;
import ai.bakery.runtime.collective.Rendezvous;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;

/** The collectives' {@link Rendezvous} through the cluster's {@link RendezvousBoard}. */
public final class ActorRendezvous implements Rendezvous {
  private final ActorSystem<?> system;
  private final ActorRef<RendezvousBoard.Command> board;

  public ActorRendezvous(ActorSystem<?> system, ActorRef<RendezvousBoard.Command> board) {
    this.system = system;
    this.board = board;
  }

  @Override
  public List<byte[]> exchange(String key, int rank, int worldSize, byte[] payload, Duration timeout) {
    try {
      RendezvousBoard.Peers peers = AskPattern.<RendezvousBoard.Command, RendezvousBoard.Peers>ask(board,
              replyTo -> new RendezvousBoard.Publish(key, rank, worldSize, payload, replyTo), timeout,
              system.scheduler())
          .toCompletableFuture()
          .get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
      return peers.payloads();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CollectiveException(CollectiveException.Reason.RENDEZVOUS, "interrupted at rendezvous " + key);
    } catch (ExecutionException | TimeoutException e) {
      throw new CollectiveException(CollectiveException.Reason.RENDEZVOUS,
          "rank " + rank + " of " + worldSize + " waited " + timeout + " at rendezvous " + key + " in vain");
    }
  }
}
