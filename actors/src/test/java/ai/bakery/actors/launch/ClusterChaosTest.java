package ai.bakery.actors.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.actors.TinyJob;
import ai.bakery.actors.coordinator.FileJobStore;
import ai.bakery.actors.job.JobSnapshot;
import ai.bakery.actors.worker.Worker;
import ai.bakery.model.io.SafetensorsReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Chaos on loopback, every node its own JVM: three workers train the tiny preset while a fourth waits as a
 * stand-by (max_workers is 3); after a few committed steps one training worker is killed with SIGKILL and the
 * stand-by replaces it; once the replacement trains, another worker gets SIGTERM (a preemption notice) and leaves
 * gracefully. (A replacement JVM started only after the kill came up after the survivors, which regroup within
 * seconds, had trained the job to its end.) The job must finish, the ledger must show every
 * dealt batch trained exactly once, and every worker alive at the end (a survivor and the replacement, which
 * took its state from the survivors) must hold bit-identical weights.
 */
class ClusterChaosTest {
  static final int STEPS = 16;
  static final java.util.regex.Pattern RANKS = java.util.regex.Pattern.compile("generation \\d+: ranks \\[([^\\]]*)\\]");

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
    List<String> replacementAndSurvivor;
    try (LocalCluster cluster = new LocalCluster(new LocalCluster.Options(3, 1, 2, jobDir, "1g", export,
        ClusterTrainingTest.QUICK_JVM, jobFile, List.of()), out)) {
      cluster.start();
      cluster.startWorker("worker-3");
      List<String> all = List.of("worker-0", "worker-1", "worker-2", "worker-3");
      waitFor(() -> all.stream().allMatch(w -> cluster.lines(w).stream().anyMatch(l -> l.contains("Model parameter"))),
          300_000, "every worker's model");
      waitFor(() -> store.load().map(JobSnapshot::committedStep).orElse(0L) >= 3, 300_000, "three committed steps");
      Thread.sleep(Worker.REREGISTER.toMillis()); // every worker has registered (right after building its model)
      List<String> ranks = latestRanks(cluster.lines("coordinator"));
      assertEquals(3, ranks.size(), "three ranks: " + ranks);
      String survivor = ranks.get(0);
      String victim = ranks.get(1);
      String leaver = ranks.get(2);
      String replacement = all.stream().filter(w -> !ranks.contains(w)).findFirst().orElseThrow();
      replacementAndSurvivor = List.of(survivor, replacement);
      killedAt = store.load().orElseThrow().committedStep();
      cluster.kill(victim);
      waitFor(() -> cluster.lines(replacement).stream().anyMatch(l -> l.contains("state from rank")), 300_000,
          "the replacement in a group");
      long before = store.load().orElseThrow().committedStep();
      waitFor(() -> store.load().orElseThrow().committedStep() > before, 120_000, "a step with the replacement");
      int mark = cluster.lines("coordinator").size();
      cluster.stop(leaver);
      assertTrue(cluster.node(leaver).waitFor(120, java.util.concurrent.TimeUnit.SECONDS), leaver + " left");
      status = cluster.await(300_000);
      assertTrue(cluster.lines("coordinator").stream().anyMatch(l -> l.contains("worker " + victim + " is gone")),
          "the coordinator noticed the kill");
      // a graceful leave finishes the step in flight: nothing is rolled back (the coordinator's own abort line;
      // Pekko's lines may say "connection has been aborted" of a node that left)
      List<String> after = cluster.lines("coordinator").subList(mark, cluster.lines("coordinator").size());
      assertTrue(after.stream().noneMatch(l -> l.matches(".*step \\d+ aborted.*")),
          "no step aborted after the SIGTERM: " + after);
      assertTrue(after.stream().anyMatch(l -> l.contains("ranks [") && !l.contains(leaver)),
          "a group without " + leaver + " went on");
      assertTrue(Files.notExists(export.resolve(victim + ".safetensors")), "the killed worker wrote nothing");
      assertTrue(Files.notExists(export.resolve(leaver + ".safetensors")), "the leaver wrote nothing");
    }
    assertEquals(0, status, "the job finished despite the kill");
    assertTrue(killedAt < STEPS, "the kill came mid-run (after step " + killedAt + ")");

    JobSnapshot job = store.load().orElseThrow();
    assertEquals(STEPS, job.committedStep());
    LedgerAsserts.assertExactlyOnce(job);

    List<byte[]> finals = new ArrayList<>();
    for (String w : replacementAndSurvivor) {
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
  }

  /** The ranks of the newest generation the coordinator formed. */
  static List<String> latestRanks(List<String> coordinatorLines) {
    List<String> ranks = List.of();
    for (String l : coordinatorLines) {
      java.util.regex.Matcher m = RANKS.matcher(l);
      if (m.find()) {
        ranks = List.of(m.group(1).split(",\\s*"));
      }
    }
    return ranks;
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
