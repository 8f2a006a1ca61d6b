package ai.bakery.actors.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.actors.TinyJob;
import ai.bakery.actors.coordinator.ClusterCheckpoints;
import ai.bakery.actors.coordinator.FileJobStore;
import ai.bakery.actors.data.PipelineShardSource;
import ai.bakery.actors.job.BatchId;
import ai.bakery.actors.job.JobSnapshot;
import ai.bakery.model.io.SafetensorsReader;
import ai.bakery.runtime.checkpoint.ShardedExport;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import ai.bakery.runtime.parallel.ShardRange;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * FULL_SHARD across a whole-cluster restart on loopback: 2 worker JVMs train with a checkpoint every 2 trainer steps
 * until every JVM is killed after the first checkpoint; 3 fresh workers hold no shard, so the job goes back to the
 * checkpoint and each loads its shard of a world of 3 from the 2 saved parts, then finishes with a final checkpoint.
 * Every batch is trained once, and the final checkpoint's consolidated weights are exactly the slices the 3 workers
 * hold at the end.
 */
class ClusterShardedCheckpointTest {
  static final int STEPS = 6;

  @TempDir
  Path dir;

  @Test
  void fullShardJobKilledOnTwoWorkersResumesOnThree() throws Exception {
    String yaml = TinyJob.yaml(dir, STEPS, "parallel:\n  sharding_strategy: FULL_SHARD")
        .replace("    save_every: 1000", "    save_every: 2");
    Path jobFile = dir.resolve("job.yaml");
    Files.writeString(jobFile, yaml);
    JobConfig config = JobConfigLoader.parse(yaml, List.of()).config();
    Path jobDir = dir.resolve("job");
    ClusterCheckpoints checkpoints = new ClusterCheckpoints(config.training().checkpoint().checkpointDir(), 0, false);

    try (LocalCluster cluster = ClusterCheckpointTest.cluster(2, jobDir, null, jobFile, List.of(),
        new ByteArrayOutputStream())) {
      cluster.start();
      long deadline = System.currentTimeMillis() + 240_000;
      while (!ClusterCheckpointTest.killPoint(cluster.lines("coordinator"))) {
        assertTrue(System.currentTimeMillis() < deadline, "run 1 reached no checkpoint in time");
        assertTrue(cluster.node("coordinator").isAlive(), "run 1's coordinator died");
        Thread.sleep(100);
      }
      for (String node : List.of("coordinator", "data-0", "worker-0", "worker-1")) {
        cluster.kill(node);
      }
    }
    long c1 = checkpoints.scan().latest().orElseThrow().checkpoint().step();
    assertTrue(new FileJobStore(jobDir.resolve("job.json")).load().orElseThrow().committedStep() > c1);

    Path export = dir.resolve("export");
    try (LocalCluster cluster = ClusterCheckpointTest.cluster(3, jobDir, export, jobFile, List.of(),
        new ByteArrayOutputStream())) {
      cluster.start();
      assertEquals(0, cluster.await(240_000), "run 2 finished");
      for (int w = 0; w < 3; w++) {
        String restored = "restored step " + c1 + " from " + checkpoints.stepDir(c1);
        assertTrue(cluster.lines("worker-" + w).stream().anyMatch(l -> l.contains(restored)),
            "worker-" + w + " loaded its shard of checkpoint " + c1);
      }
    }

    JobSnapshot job = new FileJobStore(jobDir.resolve("job.json")).load().orElseThrow();
    assertEquals(STEPS, job.committedStep());
    Set<BatchId> trained = new TreeSet<>();
    for (Map.Entry<Long, List<BatchId>> e : new TreeMap<>(job.committed()).entrySet()) {
      assertEquals(e.getKey() <= c1 ? 2 : 3, e.getValue().size(), "step " + e.getKey());
      for (BatchId b : e.getValue()) {
        assertTrue(trained.add(b), "trained twice: " + b);
      }
    }
    for (int i = 0; i < trained.size(); i++) {
      assertTrue(trained.contains(new BatchId(PipelineShardSource.shardName(0), i)), "batch " + i + " trained");
    }

    // the final checkpoint (3 parts) consolidates to exactly the slices the workers hold
    ClusterCheckpoints.Found last = checkpoints.scan().latest().orElseThrow();
    assertEquals(STEPS, last.checkpoint().step());
    Path consolidated = dir.resolve("consolidated");
    ShardedExport.export(last.dir(), consolidated);
    int compared = 0;
    try (SafetensorsReader model = SafetensorsReader.open(consolidated.resolve("model.safetensors"))) {
      for (int w = 0; w < 3; w++) {
        try (SafetensorsReader slices = SafetensorsReader.open(export.resolve("worker-" + w + ".safetensors"))) {
          int rank = Integer.parseInt(slices.metadata().get("shard_rank"));
          assertEquals("3", slices.metadata().get("shard_size"));
          for (String name : slices.tensors().keySet()) {
            long numel = 1;
            for (long d : model.tensor(name).shape()) {
              numel *= d;
            }
            ShardRange r = ShardRange.of(numel, rank, 3);
            ByteBuffer whole = model.raw(name).order(ByteOrder.LITTLE_ENDIAN);
            ByteBuffer mine = slices.raw(name).order(ByteOrder.LITTLE_ENDIAN);
            for (long i = 0; i < r.length(); i++) {
              assertEquals(whole.getFloat((int) ((r.start() + i) * 4)), mine.getFloat((int) (i * 4)), name + "[" + i
                  + "] of rank " + rank);
            }
            compared++;
          }
        }
      }
    }
    assertTrue(compared > 30, "compared " + compared + " slices");
  }
}
