package ai.bakery.actors.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.actors.TinyJob;
import ai.bakery.actors.data.BatchSource;
import ai.bakery.actors.data.PipelineShardSource;
import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.pack.PackedBatchArrow;
import ai.bakery.runtime.collective.CollectiveFactory;
import ai.bakery.runtime.collective.InMemoryRendezvous;
import ai.bakery.runtime.collective.TcpRingCollective;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sharded cluster ranks across generations (two ranks as threads): a re-formed group of the same world keeps
 * the shards and trains on; a group of another world after a commit cannot use them, and taking state fails
 * with an error that sends the user to the checkpoint.
 */
class ShardedRankTest {
  @TempDir
  Path dir;

  @Test
  void sameWorldKeepsTheShardsAnotherWorldAsksForTheCheckpoint() throws Exception {
    JobConfig config = JobConfigLoader.parse(TinyJob.yaml(dir, 4, "parallel:\n  sharding_strategy: FULL_SHARD"),
        List.of()).config();
    List<PackedBatch> packs = new ArrayList<>();
    try (BatchSource s = PipelineShardSource.factory(config, 1).open(PipelineShardSource.shardName(0), "")) {
      for (int i = 0; i < 4; i++) {
        packs.add(PackedBatchArrow.fromIpcBytes(s.next().orElseThrow()));
      }
    }
    InMemoryRendezvous rendezvous = new InMemoryRendezvous();
    CollectiveFactory factory = (name, gen, r, size) -> TcpRingCollective.create(name, gen, r, size, rendezvous,
        TcpRingCollective.Options.loopback());
    ShardedRank[] ranks = {new ShardedRank(config), new ShardedRank(config)};
    List<ClusterRank.Groups> open = new ArrayList<>();
    try {
      for (long generation = 1; generation <= 2; generation++) {
        long gen = generation;
        List<CompletableFuture<ClusterRank.Groups>> joined = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
          int rank = r;
          joined.add(CompletableFuture.supplyAsync(() -> {
            ClusterRank.Groups g = ranks[rank].join(gen, rank, 2, factory);
            assertEquals(gen - 1, ranks[rank].heldStep(), "generation " + gen + " continues the shards");
            PackedBatch mine = packs.get((int) (2 * (gen - 1) + rank));
            ranks[rank].compute(gen - 1, () -> mine);
            ranks[rank].commit();
            return g;
          }));
        }
        for (CompletableFuture<ClusterRank.Groups> f : joined) {
          open.add(f.get());
        }
      }
      assertEquals(1, ranks[0].trainer().committedStep());
      long half = ranks[0].trainer().state().stateBytes();
      assertEquals(ShardedRank.fullStateBytes(ranks[0].trainer().state()),
          half + ranks[1].trainer().state().stateBytes(), "the two shards make the whole state");

      // rank 1 left: rank 0 alone cannot continue from half the shards
      open.forEach(ClusterRank.Groups::close);
      open.clear();
      open.add(ranks[0].join(3, 0, 1, factory));
      assertEquals(-1, ranks[0].heldStep(), "shards of a world of 2 do not fit a world of 1");
      IllegalStateException e = assertThrows(IllegalStateException.class,
          () -> ranks[0].takeState(0, new long[] {-1}));
      assertTrue(e.getMessage().contains("must come from a checkpoint"), e.getMessage());
    } finally {
      open.forEach(ClusterRank.Groups::close);
      for (ShardedRank r : ranks) {
        r.close();
      }
    }
  }
}
