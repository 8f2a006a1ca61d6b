package ai.bakery.actors.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.actors.BakeryNode;
import ai.bakery.actors.job.BatchId;
import ai.bakery.actors.job.JobPolicy;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Three cluster nodes over loopback: the coordinator singleton on one, a worker on each of the others. */
class ClusterJobTest {
  static Config node(int port, int seedPort, String role) {
    return ConfigFactory.parseString(
            "pekko.remote.artery.canonical.port = " + port + "\n"
                + "pekko.cluster.seed-nodes = [\"pekko://bakery@127.0.0.1:" + seedPort + "\"]\n"
                + "pekko.cluster.roles = [" + role + "]\n"
                + "bakery.cluster.tick-interval = 100 ms\n");
  }

  static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Test
  void workerNodeLeavingMidJobLosesNothing(@TempDir Path dir) throws Exception {
    FileJobStore store = new FileJobStore(dir.resolve("job.json"));
    JobPolicy policy = new JobPolicy(1, 4, 1, Duration.ofSeconds(5), Duration.ofSeconds(5), 0);
    int seed = freePort();
    CoordinatorTestKit.Group group = new CoordinatorTestKit.Group();
    try (BakeryNode a = new BakeryNode("bakery", node(seed, seed, "coordinator"), policy, store);
        BakeryNode b = new BakeryNode("bakery", node(0, seed, "worker"), policy, store)) {
      BakeryNode c = new BakeryNode("bakery", node(0, seed, "worker"), policy, store);
      CoordinatorTestKit.Executor eb = new CoordinatorTestKit.Executor(group);
      b.startWorker("wb", eb);
      c.startWorker("wc", new CoordinatorTestKit.Executor(group));
      List<BatchId> all = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        all.add(new BatchId("s0", i));
      }
      a.coordinator().tell(new Coordinator.BatchesReady(all));
      waitFor(() -> committedSteps(store) >= 3, 40_000, "three steps with two workers");
      c.close(); // node c leaves the cluster mid-job
      a.coordinator().tell(Coordinator.DataEnd.INSTANCE);
      waitFor(() -> trained(store) == 20, 40_000, "all batches trained by the survivor");
      Set<BatchId> seen = new TreeSet<>();
      for (List<BatchId> bs : store.load().orElseThrow().committed().values()) {
        for (BatchId bid : bs) {
          assertTrue(seen.add(bid), "trained twice: " + bid);
        }
      }
      assertEquals(new TreeSet<>(all), seen);
    }
  }

  interface Cond {
    boolean ok();
  }

  static void waitFor(Cond c, long millis, String what) throws InterruptedException {
    long end = System.currentTimeMillis() + millis;
    while (!c.ok()) {
      if (System.currentTimeMillis() > end) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(50);
    }
  }

  static long committedSteps(FileJobStore store) {
    return store.load().map(s -> s.committedStep()).orElse(0L);
  }

  static int trained(FileJobStore store) {
    return store.load().map(s -> s.committed().values().stream().mapToInt(List::size).sum()).orElse(0);
  }
}
