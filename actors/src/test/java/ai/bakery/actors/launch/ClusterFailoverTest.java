package ai.bakery.actors.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.actors.TinyJob;
import ai.bakery.actors.coordinator.FileJobStore;
import ai.bakery.actors.job.JobSnapshot;
import ai.bakery.model.io.SafetensorsReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Coordinator fail-over across JVMs on loopback: a coordinator, a stand-by coordinator, one data node and two
 * workers train the tiny preset; after a few committed steps the coordinator's JVM is killed with SIGKILL. The
 * singleton must move to the stand-by, resume the job from its snapshot and carry it to the end with the same
 * worker JVMs (none restarted), every dealt batch trained exactly once, and both workers ending with identical
 * weights, AdamW state and EMA.
 */
class ClusterFailoverTest {
  static final int STEPS = 12;

  @TempDir
  Path dir;

  @Test
  void theStandbyTakesTheJobOverWithoutRestartingWorkers() throws Exception {
    Path jobFile = dir.resolve("job.yaml");
    Files.writeString(jobFile, TinyJob.yaml(dir, STEPS, "parallel:\n  sharding_strategy: NO_SHARD"));
    Path jobDir = dir.resolve("job");
    Path export = dir.resolve("export");
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    FileJobStore store = new FileJobStore(jobDir.resolve("job.json"));
    String standby = LocalCluster.coordinatorName(1);
    int status;
    long killedAt;
    long generationAtKill;
    try (LocalCluster cluster = new LocalCluster(new LocalCluster.Options(2, 1, 2, 2, jobDir, "1g", export,
        ClusterTrainingTest.QUICK_JVM, jobFile, List.of()), out)) {
      cluster.start();
      ClusterChaosTest.waitFor(() -> committed(store) >= 3, 300_000, "three committed steps");
      long worker0 = cluster.node("worker-0").pid();
      long worker1 = cluster.node("worker-1").pid();
      cluster.kill("coordinator");
      JobSnapshot atKill = store.load().orElseThrow();
      killedAt = atKill.committedStep();
      generationAtKill = atKill.generation();
      ClusterChaosTest.waitFor(() -> cluster.lines(standby).stream().anyMatch(l -> l.contains("resuming job at step")),
          180_000, "the stand-by to take the singleton over");
      status = cluster.await(420_000);
      assertEquals(worker0, cluster.node("worker-0").pid(), "worker-0 was not restarted");
      assertEquals(worker1, cluster.node("worker-1").pid(), "worker-1 was not restarted");
      assertEquals(0, cluster.node("worker-0").exitValue(), "worker-0 finished the job");
      assertEquals(0, cluster.node("worker-1").exitValue(), "worker-1 finished the job");
      assertTrue(cluster.lines(standby).stream().anyMatch(l -> l.contains("job finished at step " + STEPS)),
          "the stand-by finished the job");
    }
    assertEquals(0, status, "the job finished despite the coordinator's kill");
    assertTrue(killedAt < STEPS, "the kill came mid-run (after step " + killedAt + ")");

    JobSnapshot job = store.load().orElseThrow();
    assertEquals(STEPS, job.committedStep());
    assertTrue(job.generation() > generationAtKill, "the successor formed a newer generation");
    LedgerAsserts.assertExactlyOnce(job);
    assertEquals(fingerprint(export, "worker-0"), fingerprint(export, "worker-1"),
        "workers agree on weights, AdamW state and EMA");
  }

  static String fingerprint(Path export, String worker) throws Exception {
    Path f = export.resolve(worker + ".safetensors");
    assertTrue(Files.isRegularFile(f), worker + " finished the job and wrote its weights");
    try (SafetensorsReader r = SafetensorsReader.open(f)) {
      return r.metadata().get("fingerprint");
    }
  }

  static long committed(FileJobStore store) {
    return store.load().map(JobSnapshot::committedStep).orElse(0L);
  }
}
