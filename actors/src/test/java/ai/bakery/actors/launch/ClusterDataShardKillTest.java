package ai.bakery.actors.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.actors.TinyJob;
import ai.bakery.actors.coordinator.FileJobStore;
import ai.bakery.actors.job.JobSnapshot;
import ai.bakery.model.io.SafetensorsReader;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A data node killed with SIGKILL mid-run, every node its own JVM on loopback: a coordinator, one data node and
 * two workers train the tiny preset; after a few committed steps the data node is killed and a replacement data
 * node started. The coordinator must place the lost shard on the replacement, which resumes from the data
 * position the ledger recorded (not from the start), and the job must finish with every batch trained exactly
 * once. Since a shard reopened at a position yields exactly the packs that would have come next, the workers'
 * final weights must equal those of two in-process ranks trained on the shard's first packs in order.
 */
class ClusterDataShardKillTest {
  static final int STEPS = 12;
  /** Stated tolerance: ClusterTrainingTest's (same operations in the same order; measured 0 there). */
  static final double TOLERANCE = ClusterTrainingTest.TOLERANCE;
  static final Pattern STARTED = Pattern.compile("data shard shard-0 started at batch (\\d+)");

  @TempDir
  Path dir;

  @Test
  void aReplacementDataNodeResumesTheShardWhereTheLedgerSays() throws Exception {
    String yaml = TinyJob.yaml(dir, STEPS, "parallel:\n  sharding_strategy: NO_SHARD");
    Path jobFile = dir.resolve("job.yaml");
    Files.writeString(jobFile, yaml);
    JobConfig config = JobConfigLoader.parse(yaml, List.of()).config();
    Path jobDir = dir.resolve("job");
    Path export = dir.resolve("export");
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    FileJobStore store = new FileJobStore(jobDir.resolve("job.json"));
    int status;
    long killedAt;
    Map<String, float[]> reference;
    try (LocalCluster cluster = new LocalCluster(new LocalCluster.Options(2, 1, 2, jobDir, "1g", export,
        ClusterTrainingTest.QUICK_JVM, jobFile, List.of()), out)) {
      cluster.start();
      ClusterChaosTest.waitFor(() -> ClusterFailoverTest.committed(store) >= 3, 300_000, "three committed steps");
      cluster.kill("data-0");
      killedAt = ClusterFailoverTest.committed(store);
      cluster.startDataNode("data-1");
      reference = ClusterTrainingTest.twoRanksInProcess(config, STEPS); // while the replacement starts
      status = cluster.await(420_000);
      assertTrue(cluster.lines("coordinator").stream().anyMatch(l -> l.contains("data shard shard-0 is gone")),
          "the coordinator noticed the loss");
      long resumedAt = -1;
      for (String l : cluster.lines("data-1")) {
        Matcher m = STARTED.matcher(l);
        if (m.find()) {
          resumedAt = Long.parseLong(m.group(1));
        }
      }
      // each committed step consumed 2 batches: the replacement starts at the first one not trained
      assertTrue(resumedAt >= 2 * killedAt, "the replacement resumed behind the trained batches (at batch "
          + resumedAt + ", " + killedAt + " steps committed at the kill)");
    }
    assertEquals(0, status, "the job finished despite the data node's kill");
    assertTrue(killedAt < STEPS, "the kill came mid-run (after step " + killedAt + ")");

    JobSnapshot job = store.load().orElseThrow();
    assertEquals(STEPS, job.committedStep());
    LedgerAsserts.assertExactlyOnce(job);
    assertEquals(2 * STEPS, job.committed().values().stream().mapToInt(List::size).sum(), "2 batches a step");

    double maxDiff = 0;
    for (String worker : List.of("worker-0", "worker-1")) {
      try (SafetensorsReader r = SafetensorsReader.open(export.resolve(worker + ".safetensors"))) {
        for (var e : reference.entrySet()) {
          ByteBuffer raw = r.raw(e.getKey()).order(ByteOrder.LITTLE_ENDIAN);
          float[] want = e.getValue();
          assertEquals(want.length * 4, raw.remaining(), e.getKey());
          for (int i = 0; i < want.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(raw.getFloat(i * 4) - want[i]));
          }
        }
      }
    }
    System.out.printf("max |cluster - in-process| after the data node's kill: %.3g%n", maxDiff);
    assertTrue(maxDiff <= TOLERANCE, "the replacement served other packs: max abs diff " + maxDiff);
  }
}
