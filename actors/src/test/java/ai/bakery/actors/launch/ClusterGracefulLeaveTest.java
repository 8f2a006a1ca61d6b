package ai.bakery.actors.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.actors.TinyJob;
import ai.bakery.actors.coordinator.FileJobStore;
import ai.bakery.actors.job.JobSnapshot;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A preemption notice on loopback, every node its own JVM: one of three training workers gets SIGTERM mid-run.
 * It must say it leaves, be released by the coordinator and exit 0; the coordinator must take it as a leave (not
 * an unreachable, lost worker), abort no step because of it, and finish the job with the other two, every batch
 * trained once.
 */
class ClusterGracefulLeaveTest {
  static final int STEPS = 10;

  @TempDir
  Path dir;

  @Test
  void aSigtermedWorkerLeavesGracefullyWithoutRollback() throws Exception {
    Path jobFile = dir.resolve("job.yaml");
    Files.writeString(jobFile, TinyJob.yaml(dir, STEPS, "parallel:\n  sharding_strategy: NO_SHARD"));
    Path jobDir = dir.resolve("job");
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    FileJobStore store = new FileJobStore(jobDir.resolve("job.json"));
    int status;
    String leaver;
    long stoppedAfter;
    int leaverExit;
    List<String> leaverLines;
    List<String> afterStop;
    try (LocalCluster cluster = new LocalCluster(new LocalCluster.Options(3, 1, 2, jobDir, "1g", null,
        ClusterTrainingTest.QUICK_JVM, jobFile, List.of()), out)) {
      cluster.start();
      // min_workers 2, so the job goes on without the leaver; wait until all three train
      ClusterChaosTest.waitFor(() -> ClusterChaosTest.latestRanks(cluster.lines("coordinator")).size() == 3
          && store.load().map(JobSnapshot::committedStep).orElse(0L) >= 2, 300_000, "two steps of three ranks");
      List<String> ranks = ClusterChaosTest.latestRanks(cluster.lines("coordinator"));
      assertEquals(3, ranks.size(), "three ranks: " + ranks);
      leaver = ranks.get(1);
      int mark = cluster.lines("coordinator").size();
      stoppedAfter = store.load().orElseThrow().committedStep();
      cluster.stop(leaver);
      Process p = cluster.node(leaver);
      assertTrue(p.waitFor(120, TimeUnit.SECONDS), leaver + " exited after SIGTERM");
      leaverExit = p.exitValue();
      status = cluster.await(300_000);
      for (String r : ranks) {
        if (!r.equals(leaver)) {
          // a survivor that tore its native memory down under a running thread aborts here (glibc, 134)
          assertEquals(0, cluster.node(r).waitFor(), r + "'s exit status after the job");
        }
      }
      leaverLines = cluster.lines(leaver);
      List<String> coordinator = cluster.lines("coordinator");
      afterStop = coordinator.subList(mark, coordinator.size());
    }
    assertEquals(0, status, "the job finished");
    assertTrue(stoppedAfter < STEPS - 1, "the SIGTERM came mid-run (after step " + stoppedAfter + ")");
    assertTrue(leaverLines.stream().anyMatch(l -> l.contains("preemption notice: leaving the job")),
        leaver + " logged its graceful leave");
    assertTrue(leaverLines.stream().anyMatch(l -> l.contains("released by the coordinator")),
        leaver + " was released by the coordinator");
    assertEquals(0, leaverExit, leaver + "'s exit status after a graceful leave");
    assertTrue(afterStop.stream().anyMatch(l -> l.contains("worker " + leaver + " leaves")),
        "the coordinator took the leave: " + afterStop);
    assertTrue(afterStop.stream().noneMatch(l -> l.contains("worker " + leaver + " is gone")),
        "the leaver did not count as lost: " + afterStop);
    assertTrue(afterStop.stream().noneMatch(l -> l.matches(".*step \\d+ aborted.*")),
        "no step aborted after the SIGTERM: " + afterStop);
    assertTrue(afterStop.stream().anyMatch(l -> l.contains("ranks [") && !l.contains(leaver)),
        "a group without " + leaver + " went on: " + afterStop);

    JobSnapshot job = store.load().orElseThrow();
    assertEquals(STEPS, job.committedStep());
    LedgerAsserts.assertExactlyOnce(job);
  }
}
