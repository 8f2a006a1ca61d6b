package ai.bakery.actors.coordinator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.bakery.runtime.collective.Collective;
import ai.bakery.runtime.collective.CollectiveException;
import ai.bakery.runtime.collective.DType;
import ai.bakery.runtime.collective.HostBuffer;
import ai.bakery.runtime.collective.ReduceOp;
import ai.bakery.runtime.collective.TcpRingCollective;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class ActorRendezvousTest {
  static final ActorTestKit kit = ActorTestKit.create();

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  @Test
  void ranksFindEachOtherThroughTheBoardAndAllReduce() throws Exception {
    ActorRef<RendezvousBoard.Command> board = kit.spawn(RendezvousBoard.create());
    ActorRendezvous rv = new ActorRendezvous(kit.system(), board);
    int world = 3;
    List<CompletableFuture<float[]>> results = new ArrayList<>();
    for (int r = 0; r < world; r++) {
      int rank = r;
      results.add(CompletableFuture.supplyAsync(() -> {
        try (Collective c = TcpRingCollective.create("grads", 7, rank, world, rv, TcpRingCollective.Options.loopback());
            HostBuffer buf = HostBuffer.of(new float[] {rank, 10 * rank, 1})) {
          c.allReduce(buf.pointer(), 3, DType.FLOAT32, ReduceOp.SUM);
          return buf.toFloats();
        }
      }));
    }
    for (CompletableFuture<float[]> f : results) {
      assertArrayEquals(new float[] {3, 30, 3}, f.get(60, TimeUnit.SECONDS));
    }
  }

  @Test
  void aMissingRankTimesOutWithARendezvousError() {
    ActorRef<RendezvousBoard.Command> board = kit.spawn(RendezvousBoard.create());
    ActorRendezvous rv = new ActorRendezvous(kit.system(), board);
    CollectiveException e = assertThrows(CollectiveException.class,
        () -> rv.exchange("g@gen1", 0, 2, new byte[] {1}, Duration.ofMillis(300)));
    org.junit.jupiter.api.Assertions.assertEquals(CollectiveException.Reason.RENDEZVOUS, e.reason());
  }
}
