package ai.bakery.actors.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.actors.TinyJob;
import ai.bakery.actors.coordinator.FileJobStore;
import ai.bakery.actors.job.JobSnapshot;
import ai.bakery.model.io.SafetensorsReader;
import ai.bakery.runtime.parallel.ShardRange;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * FULL_SHARD across JVMs on loopback: three workers train the tiny preset, each holding a third of the state and
 * a copy of its neighbour's third; one is killed with SIGKILL mid-run and no replacement comes. The two survivors
 * form a new group of two, rebuild their halves from their own thirds and the copies (no checkpoint exists:
 * {@code save_every} is far away) and finish the job. Every batch is trained once, and the survivors' exported
 * slices follow the shard rule of a world of two, cover every weight once and hold half the state each.
 */
class ClusterShardKillTest {
  static final int STEPS = 10;

  @TempDir
  Path dir;

  @Test
  void aKilledFullShardWorkersStateComesFromItsPeersCopy() throws Exception {
    String yaml = TinyJob.yaml(dir, STEPS, "parallel:\n  sharding_strategy: FULL_SHARD");
    Path jobFile = dir.resolve("job.yaml");
    Files.writeString(jobFile, yaml);
    Path jobDir = dir.resolve("job");
    Path export = dir.resolve("export");
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(new ClusterTrainingTest.Tee(captured, System.out), true, StandardCharsets.UTF_8);
    FileJobStore store = new FileJobStore(jobDir.resolve("job.json"));
    int status;
    long killedAt;
    try (LocalCluster cluster = new LocalCluster(new LocalCluster.Options(3, 1, 2, jobDir, "1g", export,
        ClusterTrainingTest.QUICK_JVM, jobFile, List.of()), out)) {
      cluster.start();
      ClusterChaosTest.waitFor(() -> store.load().map(JobSnapshot::committedStep).orElse(0L) >= 3, 300_000,
          "three committed steps");
      killedAt = store.load().orElseThrow().committedStep();
      cluster.kill("worker-1");
      status = cluster.await(300_000);
      assertTrue(cluster.lines("coordinator").stream().anyMatch(l -> l.contains("worker worker-1 is gone")),
          "the coordinator noticed the kill");
      for (String w : List.of("worker-0", "worker-2")) {
        assertTrue(cluster.lines(w).stream().anyMatch(l -> l.contains("shards moved")),
            w + " rebuilt its shard of the new group: " + cluster.lines(w));
      }
    }
    assertEquals(0, status, "the job finished despite the kill");
    assertTrue(killedAt < STEPS, "the kill came mid-run (after step " + killedAt + ")");
    String log = captured.toString(StandardCharsets.UTF_8);
    assertTrue(log.lines().noneMatch(l -> l.contains("must come from") || l.contains("no rank holds committed step")),
        "no checkpoint was needed");

    JobSnapshot job = store.load().orElseThrow();
    assertEquals(STEPS, job.committedStep());
    LedgerAsserts.assertExactlyOnce(job);

    // the survivors hold shards 0 and 1 of 2: together every weight exactly once, each half the state
    Map<String, Long> numel = new HashMap<>();
    Map<String, long[]> covered = new HashMap<>();
    long[] stateBytes = new long[2];
    long full = -1;
    List<Integer> shards = new ArrayList<>();
    for (String w : List.of("worker-0", "worker-2")) {
      try (SafetensorsReader in = SafetensorsReader.open(export.resolve(w + ".safetensors"))) {
        Map<String, String> meta = in.metadata();
        assertEquals("2", meta.get("shard_size"), w);
        assertEquals(Integer.toString(STEPS), meta.get("step"), w);
        int shard = Integer.parseInt(meta.get("shard_rank"));
        shards.add(shard);
        stateBytes[shard] = Long.parseLong(meta.get("state_bytes"));
        full = Long.parseLong(meta.get("full_state_bytes"));
        for (String name : in.tensors().keySet()) {
          ByteBuffer raw = in.raw(name).order(ByteOrder.LITTLE_ENDIAN);
          for (int i = 0; i < raw.remaining() / 4; i++) {
            assertTrue(Float.isFinite(raw.getFloat(i * 4)), name + " is finite");
          }
          covered.computeIfAbsent(name, n -> new long[2])[shard] = raw.remaining() / 4;
        }
      }
    }
    assertEquals(Set.of(0, 1), Set.copyOf(shards), "the survivors are shards 0 and 1 of the new group");
    assertEquals(full, stateBytes[0] + stateBytes[1], "the two halves make the whole state");
    try (SafetensorsReader in = SafetensorsReader.open(export.resolve("worker-0.safetensors"))) {
      assertTrue(in.metadata().containsKey("full_state_bytes"));
    }
    for (Map.Entry<String, long[]> e : covered.entrySet()) {
      long n = e.getValue()[0] + e.getValue()[1];
      numel.put(e.getKey(), n);
      assertEquals(ShardRange.of(n, 0, 2).length(), e.getValue()[0], "shard 0 of " + e.getKey());
      assertEquals(ShardRange.of(n, 1, 2).length(), e.getValue()[1], "shard 1 of " + e.getKey());
    }
    assertTrue(numel.size() > 50, "every weight exported: " + numel.size());
    assertTrue(Files.notExists(export.resolve("worker-1.safetensors")), "the killed worker wrote nothing");
  }
}
