package ai.bakery.actors.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.actors.TinyJob;
import ai.bakery.actors.coordinator.ClusterCheckpoints;
import ai.bakery.actors.data.BatchSource;
import ai.bakery.actors.data.PipelineShardSource;
import ai.bakery.actors.job.JobEffect;
import ai.bakery.actors.job.JobSnapshot;
import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.pack.PackedBatchArrow;
import ai.bakery.runtime.collective.CollectiveFactory;
import ai.bakery.runtime.collective.InMemoryRendezvous;
import ai.bakery.runtime.collective.TcpRingCollective;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import ai.bakery.runtime.parallel.fsdp.ShardSlice;
import ai.bakery.runtime.parallel.fsdp.ShardedState;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A FULL_SHARD cluster checkpoint (ranks as threads): 2 ranks train a step and write their shards with the cluster's
 * writers, the coordinator's side commits them; 3 fresh ranks load it. The whole state the 3 hold (weights, AdamW
 * moments and counts, EMA), put together from their shards, must equal what the 2 held, bit for bit, and they
 * continue at the saved step.
 */
class ShardedCheckpointRestoreTest {
  @TempDir
  Path dir;

  @Test
  void twoRanksShardsLoadIntoThree() throws Exception {
    JobConfig config = JobConfigLoader.parse(TinyJob.yaml(dir, 4, "parallel:\n  sharding_strategy: FULL_SHARD"),
        List.of()).config();
    List<PackedBatch> packs = new ArrayList<>();
    try (BatchSource s = PipelineShardSource.factory(config, 1).open(PipelineShardSource.shardName(0), "")) {
      for (int i = 0; i < 2; i++) {
        packs.add(PackedBatchArrow.fromIpcBytes(s.next().orElseThrow()));
      }
    }
    InMemoryRendezvous rendezvous = new InMemoryRendezvous();
    CollectiveFactory factory = (name, gen, r, size) -> TcpRingCollective.create(name, gen, r, size, rendezvous,
        TcpRingCollective.Options.loopback());
    ClusterCheckpoints checkpoints = new ClusterCheckpoints(dir.resolve("ckpt"), 0, true);
    List<String> two = List.of("a", "b");
    Map<String, float[]> saved;
    Map<String, Long> savedSteps;
    List<ClusterRank.Groups> open = new ArrayList<>();
    ShardedRank[] before = {new ShardedRank(config), new ShardedRank(config)};
    try {
      List<CompletableFuture<CheckpointWriter.Part>> parts = new ArrayList<>();
      for (int r = 0; r < 2; r++) {
        int rank = r;
        parts.add(CompletableFuture.supplyAsync(() -> {
          open.add(before[rank].join(1, rank, 2, factory));
          before[rank].compute(0, () -> packs.get(rank));
          before[rank].commit();
          try (CheckpointWriter w = new CheckpointWriter()) {
            return w.save(before[rank], 1, "g1-s1", two, rank, checkpoints.root()).get();
          } catch (Exception e) {
            throw new RuntimeException(e);
          }
        }));
      }
      Map<String, String> stepFiles = Map.of();
      for (CompletableFuture<CheckpointWriter.Part> p : parts) {
        CheckpointWriter.Part part = p.get();
        assertEquals(2, part.parts());
        if (part.part() == 0) {
          stepFiles = part.stepFiles();
        }
      }
      checkpoints.commit(new JobEffect.CommitCheckpoint(1, "g1-s1", 2,
          new JobSnapshot(1, 1, Map.of(1L, List.of()), List.of()), stepFiles));
      saved = whole(before);
      savedSteps = steps(before);
      assertTrue(savedSteps.values().stream().anyMatch(n -> n == 1), "one AdamW update taken");
    } finally {
      open.forEach(ClusterRank.Groups::close);
      open.clear();
      for (ShardedRank r : before) {
        r.close();
      }
    }

    Path stepDir = checkpoints.scan().latest().orElseThrow().dir();
    ShardedRank[] after = {new ShardedRank(config), new ShardedRank(config), new ShardedRank(config)};
    try {
      List<CompletableFuture<Void>> loaded = new ArrayList<>();
      for (int r = 0; r < 3; r++) {
        int rank = r;
        loaded.add(CompletableFuture.runAsync(() -> {
          open.add(after[rank].join(2, rank, 3, factory));
          try {
            after[rank].restore(stepDir);
          } catch (java.io.IOException e) {
            throw new RuntimeException(e);
          }
          assertEquals(1, after[rank].heldStep(), "continues after job step 1");
        }));
      }
      for (CompletableFuture<Void> f : loaded) {
        f.get();
      }
      Map<String, float[]> restored = whole(after);
      assertEquals(saved.keySet(), restored.keySet());
      for (var e : saved.entrySet()) {
        assertTrue(java.util.Arrays.equals(e.getValue(), restored.get(e.getKey())), e.getKey() + " bit-identical");
      }
      assertTrue(saved.keySet().stream().anyMatch(k -> k.startsWith("exp_avg_sq/")), "moments compared");
      assertTrue(saved.keySet().stream().anyMatch(k -> k.startsWith("ema/")), "EMA compared");
      for (ShardedRank r : after) {
        assertEquals(savedSteps, new TreeMap<>(r.trainer().state().steps()), "AdamW update counts restored");
      }
    } finally {
      open.forEach(ClusterRank.Groups::close);
      for (ShardedRank r : after) {
        r.close();
      }
    }
  }

  /** Every rank's shards put together into whole flat tensors, keyed by part and name. */
  static Map<String, float[]> whole(ShardedRank[] ranks) {
    Map<String, float[]> out = new TreeMap<>();
    List<Function<ShardedState, List<ShardSlice>>> parts = List.of(ShardedState::params, ShardedState::expAvg,
        ShardedState::expAvgSq, ShardedState::ema);
    List<String> names = List.of("model/", "exp_avg/", "exp_avg_sq/", "ema/");
    for (int p = 0; p < parts.size(); p++) {
      for (ShardedRank r : ranks) {
        for (ShardSlice s : parts.get(p).apply(r.trainer().state())) {
          float[] full = out.computeIfAbsent(names.get(p) + s.name(), k -> new float[(int) s.numel()]);
          float[] mine = s.shard().toFloatArray();
          System.arraycopy(mine, 0, full, (int) s.range().start(), (int) s.range().length());
        }
      }
    }
    return out;
  }

  static Map<String, Long> steps(ShardedRank[] ranks) {
    return new TreeMap<>(ranks[0].trainer().state().steps());
  }
}
