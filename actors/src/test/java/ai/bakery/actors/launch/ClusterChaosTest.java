package ai.bakery.actors.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.actors.TinyJob;
import ai.bakery.actors.coordinator.FileJobStore;
import ai.bakery.actors.job.BatchId;
import ai.bakery.actors.job.JobSnapshot;
import ai.bakery.model.io.SafetensorsReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Chaos on loopback, every node its own JVM: three workers train the tiny preset; after a few committed steps
 * one worker is killed with SIGKILL and a replacement is started; once the replacement trains, another worker
 * gets SIGTERM (a preemption notice) and leaves gracefully. The job must finish, the ledger must show every
 * dealt batch trained exactly once, and every worker alive at the end (a survivor and the replacement, which
 * took its state from the survivors) must hold bit-identical weights.
 */
class ClusterChaosTest {
  static final int STEPS = 12;

  @TempDir
  Path dir;

  @Test
  void aKilledWorkerIsReplacedAndNothingIsLostOrTrainedTwice() throws Exception {
    String yaml = TinyJob.yaml(dir, STEPS, "parallel:\n  sharding_strategy: NO_SHARD");
    Path jobFile = dir.resolve("job.yaml");
    Files.writeString(jobFile, yaml);
    Path jobDir = dir.resolve("job");
    Path export = dir.resolve("export");
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    FileJobStore store = new FileJobStore(jobDir.resolve("job.json"));
    int status;
    long killedAt;
    try (LocalCluster cluster = new LocalCluster(new LocalCluster.Options(3, 1, 2, jobDir, "1g", export,
        ClusterTrainingTest.QUICK_JVM, jobFile, List.of()), out)) {
      cluster.start();
      waitFor(() -> store.load().map(JobSnapshot::committedStep).orElse(0L) >= 3, 300_000, "three committed steps");
      killedAt = store.load().orElseThrow().committedStep();
      cluster.kill("worker-1");
      cluster.startWorker("worker-3");
      waitFor(() -> cluster.lines("worker-3").stream().anyMatch(l -> l.contains("state from rank")), 300_000,
          "the replacement in a group");
      long before = store.load().orElseThrow().committedStep();
      waitFor(() -> store.load().orElseThrow().committedStep() > before, 120_000, "a step with the replacement");
      int mark = cluster.lines("coordinator").size();
      cluster.stop("worker-2");
      assertTrue(cluster.node("worker-2").waitFor(120, java.util.concurrent.TimeUnit.SECONDS), "worker-2 left");
      status = cluster.await(300_000);
      assertTrue(cluster.lines("coordinator").stream().anyMatch(l -> l.contains("worker worker-1 is gone")),
          "the coordinator noticed the kill");
      // a graceful leave finishes the step in flight: nothing is rolled back
      List<String> after = cluster.lines("coordinator").subList(mark, cluster.lines("coordinator").size());
      assertTrue(after.stream().noneMatch(l -> l.contains("aborted")), "no step aborted after the SIGTERM: " + after);
      assertTrue(after.stream().anyMatch(l -> l.contains("ranks [") && !l.contains("worker-2")),
          "a group without worker-2 went on");
    }
    assertEquals(0, status, "the job finished despite the kill");
    assertTrue(killedAt < STEPS, "the kill came mid-run (after step " + killedAt + ")");

    JobSnapshot job = store.load().orElseThrow();
    assertEquals(STEPS, job.committedStep());
    Set<BatchId> trained = new TreeSet<>();
    long max = -1;
    for (List<BatchId> batches : job.committed().values()) {
      for (BatchId b : batches) {
        assertTrue(trained.add(b), "trained twice: " + b);
        max = Math.max(max, b.seq());
      }
    }
    // every batch dealt up to the last one trained: none lost (aborted steps' batches were served again)
    assertEquals(max + 1, trained.size(), "no batch lost below the last one trained: " + trained);

    List<byte[]> finals = new ArrayList<>();
    for (String w : List.of("worker-0", "worker-3")) {
      Path f = export.resolve(w + ".safetensors");
      assertTrue(Files.isRegularFile(f), w + " finished the job and wrote its weights");
      try (SafetensorsReader r = SafetensorsReader.open(f)) {
        finals.add(r.metadata().get("fingerprint").getBytes(StandardCharsets.UTF_8));
      }
    }
    for (int i = 1; i < finals.size(); i++) {
      assertEquals(new String(finals.get(0), StandardCharsets.UTF_8), new String(finals.get(i), StandardCharsets.UTF_8),
          "workers agree on weights, AdamW state and EMA");
    }
    assertTrue(Files.notExists(export.resolve("worker-1.safetensors")), "the killed worker wrote nothing");
    assertTrue(Files.notExists(export.resolve("worker-2.safetensors")), "the leaver wrote nothing");
  }

  interface Cond {
    boolean ok() throws Exception;
  }

  static void waitFor(Cond c, long millis, String what) throws Exception {
    long end = System.currentTimeMillis() + millis;
    while (!c.ok()) {
      if (System.currentTimeMillis() > end) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(200);
    }
  }
}
