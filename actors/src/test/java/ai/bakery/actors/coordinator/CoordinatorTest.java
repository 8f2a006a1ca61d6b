package ai.bakery.actors.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.actors.job.BatchId;
import ai.bakery.actors.job.JobPolicy;
import ai.bakery.actors.job.JobSnapshot;
import ai.bakery.actors.worker.Worker;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Coordinator and worker actors end to end, with an in-memory "all-reduce" that fails when a rank is gone. */
class CoordinatorTest {
  static final ActorTestKit kit = ActorTestKit.create();

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  @Test
  void trainsEveryBatchOnceThroughAKillAJoinAndAPreemption(@TempDir Path dir) throws Exception {
    FileJobStore store = new FileJobStore(dir.resolve("job.json"));
    JobPolicy policy = new JobPolicy(2, 3, 1, Duration.ofSeconds(2), Duration.ofSeconds(2), 0);
    ActorRef<Coordinator.Command> coordinator = kit.spawn(Coordinator.create(policy, store, Duration.ofMillis(50)));
    CoordinatorTestKit.Group group = new CoordinatorTestKit.Group();
    // Tests read the committed batches of each step from the snapshot the coordinator saves.
    Map<Long, List<BatchId>> stepBatches = new ConcurrentHashMap<>();
    Map<String, CoordinatorTestKit.Executor> executors = new ConcurrentHashMap<>();
    Map<String, ActorRef<Worker.Command>> refs = new ConcurrentHashMap<>();
    for (String w : List.of("w0", "w1", "w2")) {
      CoordinatorTestKit.Executor ex = new CoordinatorTestKit.Executor(group);
      executors.put(w, ex);
      refs.put(w, kit.spawn(Worker.create(w, coordinator, ex), w));
    }
    List<BatchId> all = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      all.add(new BatchId("s0", i));
    }
    coordinator.tell(new Coordinator.BatchesReady(all.subList(0, 15)));
    TestProbe<Coordinator.Status> probe = kit.createTestProbe();
    awaitStep(coordinator, probe, 3, stepBatches, store);
    kit.stop(refs.remove("w1"));
    executors.remove("w1");
    coordinator.tell(new Coordinator.BatchesReady(all.subList(15, 30)));
    awaitStep(coordinator, probe, 6, stepBatches, store);
    CoordinatorTestKit.Executor joiner = new CoordinatorTestKit.Executor(group);
    executors.put("w3", joiner);
    refs.put("w3", kit.spawn(Worker.create("w3", coordinator, joiner), "w3"));
    awaitStep(coordinator, probe, 8, stepBatches, store);
    refs.get("w0").tell(Worker.Preempted.INSTANCE);
    coordinator.tell(Coordinator.DataEnd.INSTANCE);
    long deadline = System.currentTimeMillis() + 20_000;
    while (trained(store) < 30 && System.currentTimeMillis() < deadline) {
      Thread.sleep(50);
      refresh(store, stepBatches);
    }
    JobSnapshot snap = store.load().orElseThrow();
    Set<BatchId> seen = new TreeSet<>();
    for (List<BatchId> bs : snap.committed().values()) {
      for (BatchId b : bs) {
        assertTrue(seen.add(b), "trained twice: " + b);
      }
    }
    assertEquals(new TreeSet<>(all), seen);
    refresh(store, stepBatches);
    Thread.sleep(200); // last commit reaches the workers
    List<BatchId> model = new ArrayList<>();
    new TreeMap<>(stepBatches).values().forEach(model::addAll);
    for (String w : List.of("w2", "w3")) {
      assertEquals(model, executors.get(w).applied, w + " holds the committed model");
    }
  }

  private static int trained(FileJobStore store) {
    return store.load().map(s -> s.committed().values().stream().mapToInt(List::size).sum()).orElse(0);
  }

  private static void refresh(FileJobStore store, Map<Long, List<BatchId>> stepBatches) {
    store.load().ifPresent(s -> stepBatches.putAll(s.committed()));
  }

  private static void awaitStep(ActorRef<Coordinator.Command> c, TestProbe<Coordinator.Status> probe, long step,
      Map<Long, List<BatchId>> stepBatches, FileJobStore store) throws InterruptedException {
    long deadline = System.currentTimeMillis() + 20_000;
    while (System.currentTimeMillis() < deadline) {
      c.tell(new Coordinator.GetStatus(probe.getRef()));
      Coordinator.Status s = probe.receiveMessage();
      refresh(store, stepBatches);
      if (s.committedStep() >= step) {
        return;
      }
      Thread.sleep(20);
    }
    throw new AssertionError("step " + step + " not reached");
  }
}
