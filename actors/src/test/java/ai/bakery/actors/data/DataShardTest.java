package ai.bakery.actors.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.actors.coordinator.Coordinator;
import ai.bakery.actors.coordinator.CoordinatorTestKit;
import ai.bakery.actors.coordinator.FileJobStore;
import ai.bakery.actors.flight.BatchStore;
import ai.bakery.actors.job.BatchId;
import ai.bakery.actors.job.JobPolicy;
import ai.bakery.actors.worker.Worker;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataShardTest {
  static final ActorTestKit kit = ActorTestKit.create();
  static final int PER_SHARD = 12;

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  /** Deterministic from its position (the count of batches it has yielded); shard s1 fails once at batch 5. */
  static final class CountingSource implements BatchSource {
    final String shard;
    final AtomicBoolean failOnce;
    int n;

    CountingSource(String shard, int start, AtomicBoolean failOnce) {
      this.shard = shard;
      this.n = start;
      this.failOnce = failOnce;
    }

    @Override
    public Optional<byte[]> next() {
      if (n >= PER_SHARD) {
        return Optional.empty();
      }
      if (shard.equals("s1") && n == 5 && failOnce.compareAndSet(true, false)) {
        throw new IllegalStateException("corrupt row group (injected)");
      }
      return Optional.of((shard + ":" + n++).getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String position() {
      return Integer.toString(n);
    }

    @Override
    public void close() {}
  }

  @Test
  void failedShardRestartsFromItsPositionAndNothingIsTrainedTwice(@TempDir Path dir) throws Exception {
    FileJobStore store = new FileJobStore(dir.resolve("job.json"));
    JobPolicy policy = new JobPolicy(2, 2, 1, Duration.ofSeconds(3), Duration.ofSeconds(3), 0);
    ActorRef<Coordinator.Command> coordinator = kit.spawn(Coordinator.create(policy, store, Duration.ofMillis(50)));
    AtomicBoolean failOnce = new AtomicBoolean(true);
    BatchStore batches = new BatchStore(6);
    BatchSource.Factory sources = (shard, pos) -> new CountingSource(shard, pos.isEmpty() ? 0 : Integer.parseInt(pos), failOnce);
    ActorRef<ShardHost.Command> host = kit.spawn(ShardHost.create(coordinator, sources, batches));
    CoordinatorTestKit.Group group = new CoordinatorTestKit.Group();
    kit.spawn(Worker.create("w0", coordinator, new CoordinatorTestKit.Executor(group)));
    kit.spawn(Worker.create("w1", coordinator, new CoordinatorTestKit.Executor(group)));
    Thread.sleep(300); // the coordinator's receptionist subscription sees the host
    host.tell(new ShardHost.StartShard("s0", 0, "", Set.of()));
    host.tell(new ShardHost.StartShard("s1", 0, "", Set.of()));
    long end = System.currentTimeMillis() + 40_000;
    while (trained(store) < 2 * PER_SHARD && System.currentTimeMillis() < end) {
      Thread.sleep(50);
    }
    assertTrue(!failOnce.get(), "the injected failure happened");
    Set<BatchId> seen = new TreeSet<>();
    for (List<BatchId> bs : store.load().orElseThrow().committed().values()) {
      for (BatchId b : bs) {
        assertTrue(seen.add(b), "trained twice: " + b);
      }
    }
    assertEquals(2 * PER_SHARD, seen.size(), "every batch of both shards trained: " + seen);
    Thread.sleep(200);
    assertEquals(0, batches.size(), "committed batches are freed from the store");
  }

  static int trained(FileJobStore store) {
    return store.load().map(s -> s.committed().values().stream().mapToInt(List::size).sum()).orElse(0);
  }
}
