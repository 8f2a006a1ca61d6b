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
import ai.bakery.runtime.checkpoint.CheckpointManager;
import ai.bakery.runtime.checkpoint.ShardedExport;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import ai.bakery.runtime.parallel.RankTrainer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cluster job's checkpoints across whole-cluster restarts on loopback, every node its own JVM: 3 workers train
 * (NO_SHARD, a checkpoint every 2 trainer steps) until the job is killed outright (every JVM, SIGKILL) after its
 * first checkpoint; the job restarts with 2 workers, which hold nothing, so it goes back to the newest complete
 * checkpoint (its 3 rank parts resharded to 2), serves the batches trained after it again, and ends with a final
 * checkpoint; a third start with 4 workers resumes from that. Each resume must load exactly the checkpoint's state
 * (fingerprint of weights, AdamW moments and EMA, against the checkpoint loaded in this process), the ledger must
 * show every batch of the shard trained exactly once, and the final checkpoint must export (as
 * {@code bakery checkpoint export} does) to the weights the workers hold at the end.
 */
class ClusterCheckpointTest {
  /** Steps of the whole job; run 2 stops at {@link #RUN2_STEPS} (its own final checkpoint). */
  static final int STEPS = 9;
  static final int RUN2_STEPS = 7;
  static final Pattern RESTORED = Pattern.compile(
      "restored step (\\d+) from (\\S+) in \\d+ ms; state (weights \\p{XDigit}+ optimizer \\p{XDigit}+ ema \\p{XDigit}+)");

  @TempDir
  Path dir;

  @Test
  void killedJobResumesFromItsCheckpointOnTwoThenFourWorkers() throws Exception {
    String yaml = TinyJob.yaml(dir, STEPS, "parallel:\n  sharding_strategy: NO_SHARD")
        .replace("    save_every: 1000", "    save_every: 2\n    keep_last: 3");
    Path jobFile = dir.resolve("job.yaml");
    Files.writeString(jobFile, yaml);
    JobConfig config = JobConfigLoader.parse(yaml, List.of()).config();
    Path jobDir = dir.resolve("job");
    ClusterCheckpoints checkpoints = new ClusterCheckpoints(config.training().checkpoint().checkpointDir(), 3, false);
    long t0 = System.nanoTime();

    // run 1: three workers, killed outright once a checkpoint is complete and a later step committed
    ByteArrayOutputStream log1 = new ByteArrayOutputStream();
    try (LocalCluster cluster = cluster(3, jobDir, null, jobFile, List.of(), log1)) {
      cluster.start();
      long deadline = System.currentTimeMillis() + 240_000;
      while (!killPoint(cluster.lines("coordinator"))) {
        assertTrue(System.currentTimeMillis() < deadline, "run 1 reached no checkpoint in time");
        assertTrue(cluster.node("coordinator").isAlive(), "run 1's coordinator died");
        Thread.sleep(100);
      }
      for (String node : List.of("coordinator", "data-0", "worker-0", "worker-1", "worker-2")) {
        cluster.kill(node);
      }
    }
    JobSnapshot killed = new FileJobStore(jobDir.resolve("job.json")).load().orElseThrow();
    ClusterCheckpoints.Found first = checkpoints.scan().latest().orElseThrow();
    long c1 = first.checkpoint().step();
    System.out.printf("run 1 killed at committed step %d, newest checkpoint %d (%.1f s)%n", killed.committedStep(), c1,
        (System.nanoTime() - t0) / 1e9);
    assertTrue(killed.committedStep() > c1, "steps after the checkpoint were committed, to be trained again");

    // run 2: two fresh workers hold nothing: the job goes back to c1 and every rank loads it (3 parts -> 2 ranks)
    ByteArrayOutputStream log2 = new ByteArrayOutputStream();
    try (LocalCluster cluster = cluster(2, jobDir, null, jobFile,
        List.of("--training.loop.max_steps", Integer.toString(RUN2_STEPS)), log2)) {
      cluster.start();
      assertEquals(0, cluster.await(240_000), "run 2 finished");
      assertRestored(config, first.dir(), c1, cluster, 2);
      assertTrue(cluster.lines("coordinator").stream().anyMatch(l -> l.contains("goes back to its checkpoint of step "
          + c1)), "the coordinator said where it went back to");
    }
    ClusterCheckpoints.Found second = checkpoints.scan().latest().orElseThrow();
    assertEquals(RUN2_STEPS, second.checkpoint().step(), "run 2 ended with its final checkpoint");

    // run 3: four workers resume from run 2's final checkpoint (2 parts -> 4 ranks) and finish the job
    Path export = dir.resolve("export");
    ByteArrayOutputStream log3 = new ByteArrayOutputStream();
    try (LocalCluster cluster = cluster(4, jobDir, export, jobFile, List.of(), log3)) {
      cluster.start();
      assertEquals(0, cluster.await(240_000), "run 3 finished");
      assertRestored(config, second.dir(), RUN2_STEPS, cluster, 4);
    }
    System.out.printf("three runs took %.1f s%n", (System.nanoTime() - t0) / 1e9);

    // the ledger: steps 1..9, 3 then 2 then 4 batches each, every batch of the shard's first N exactly once
    JobSnapshot job = new FileJobStore(jobDir.resolve("job.json")).load().orElseThrow();
    assertEquals(STEPS, job.committedStep());
    Set<BatchId> trained = new TreeSet<>();
    TreeMap<Long, List<BatchId>> steps = new TreeMap<>(job.committed());
    assertEquals(STEPS, steps.size());
    for (Map.Entry<Long, List<BatchId>> e : steps.entrySet()) {
      int world = e.getKey() <= c1 ? 3 : e.getKey() <= RUN2_STEPS ? 2 : 4;
      assertEquals(world, e.getValue().size(), "step " + e.getKey() + " trained a batch per rank");
      for (BatchId b : e.getValue()) {
        assertTrue(trained.add(b), "trained twice: " + b);
      }
    }
    Set<BatchId> expected = new TreeSet<>();
    for (int i = 0; i < trained.size(); i++) {
      expected.add(new BatchId(PipelineShardSource.shardName(0), i));
    }
    assertEquals(expected, trained, "no batch lost: the shard's first " + trained.size() + " batches, each once");

    // the final checkpoint exports to the reference's consolidated files, equal to the workers' final weights
    ClusterCheckpoints.Found last = checkpoints.scan().latest().orElseThrow();
    assertEquals(STEPS, last.checkpoint().step());
    Path consolidated = dir.resolve("consolidated");
    List<Path> files = ShardedExport.export(last.dir(), consolidated);
    assertTrue(files.contains(consolidated.resolve("model.safetensors")), "model.safetensors written: " + files);
    assertTrue(files.contains(consolidated.resolve("ema.safetensors")), "ema.safetensors written: " + files);
    try (SafetensorsReader model = SafetensorsReader.open(consolidated.resolve("model.safetensors"));
        SafetensorsReader worker = SafetensorsReader.open(export.resolve("worker-0.safetensors"))) {
      int compared = 0;
      for (String name : worker.tensors().keySet()) {
        if (CheckpointManager.NOT_LOADED.contains(name)) {
          continue;
        }
        assertTrue(model.tensors().containsKey(name), "exported " + name);
        ByteBuffer a = model.raw(name).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer b = worker.raw(name).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(b.remaining(), a.remaining(), name);
        assertTrue(a.equals(b), name + ": the exported checkpoint holds the workers' final weights bit for bit");
        compared++;
      }
      assertTrue(compared > 10, "compared " + compared + " tensors");
    }
  }

  /**
   * Run 1 is killed once a checkpoint is complete and a later step committed, in either order of their lines: the
   * COMPLETE marker is written off the coordinator's thread, so the next step's line may come first.
   */
  static boolean killPoint(List<String> coordinator) {
    boolean complete = false;
    boolean later = false;
    for (String l : coordinator) {
      complete |= l.contains("checkpoint of step 3 complete");
      later |= l.contains("(step=0000003)"); // job step 4 committed
    }
    return complete && later;
  }

  /**
   * Every worker of the run loaded checkpoint {@code step} from {@code stepDir} for a world of {@code world}, and
   * holds exactly its state: the fingerprint each logged equals that of the checkpoint loaded here.
   */
  static void assertRestored(JobConfig config, Path stepDir, long step, LocalCluster cluster, int world) {
    String want;
    try (RankTrainer reference = RankTrainer.create(config, null)) {
      new ai.bakery.runtime.checkpoint.CheckpointManager(config.training().checkpoint()).restore(
          new CheckpointManager.Plan(stepDir, false, false), reference.store(), reference.ema(), reference.optimizer());
      want = reference.fingerprint().toString();
    }
    for (int w = 0; w < world; w++) {
      List<String> found = new ArrayList<>();
      for (String l : cluster.lines("worker-" + w)) {
        Matcher m = RESTORED.matcher(l);
        if (m.find()) {
          assertEquals(step, Long.parseLong(m.group(1)), l);
          assertEquals(stepDir.toAbsolutePath().normalize().toString(), m.group(2), l);
          found.add(m.group(3));
        }
      }
      assertTrue(!found.isEmpty(), "worker-" + w + " loaded checkpoint " + step);
      assertEquals(want, found.get(found.size() - 1), "worker-" + w + " holds the checkpoint's state after loading");
    }
  }

  static LocalCluster cluster(int workers, Path jobDir, Path export, Path jobFile, List<String> overrides,
      ByteArrayOutputStream captured) {
    PrintStream out = new PrintStream(new ClusterTrainingTest.Tee(captured, System.out), true, StandardCharsets.UTF_8);
    return new LocalCluster(new LocalCluster.Options(workers, 1, workers, jobDir, "1g", export,
        ClusterTrainingTest.QUICK_JVM, jobFile, overrides), out);
  }
}
