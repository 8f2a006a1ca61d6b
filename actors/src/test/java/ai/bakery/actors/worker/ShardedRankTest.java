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
 * the shards and trains on; when rank 1 is lost, rank 0 alone rebuilds the whole state from its shard and its
 * peer copy of rank 1's; with {@code parallel.peer_copy: false} it cannot, holds no step and names the missing
 * shard, which sends the job to its checkpoint.
 */
class ShardedRankTest {
  @TempDir
  Path dir;

  @Test
  void sameWorldKeepsTheShardsAndALostRankComesBackFromTheCopy() throws Exception {
    ShardedRank[] ranks = trainTwoSteps(true);
    try {
      assertTrue(ranks[0].describe().contains("copy of shard 1 at step 1"), ranks[0].describe());
      long full = ShardedRank.fullStateBytes(ranks[0].trainer().state());
      // rank 1 is lost: rank 0 alone holds its own shard and the copy of rank 1's, which make the whole state
      ranks[1].close();
      open.forEach(ClusterRank.Groups::close);
      open.clear();
      open.add(ranks[0].join(3, 0, 1, factory));
      assertEquals(2, ranks[0].heldStep(), "the committed step, continued by a world of 1");
      assertEquals(full, ranks[0].trainer().state().stateBytes(), "the whole state on the one rank");
      assertEquals(1, ranks[0].trainer().worldSize());
      PackedBatch next = packs.get(3);
      ranks[0].compute(2, () -> next);
      ranks[0].commit();
      assertEquals(2, ranks[0].trainer().committedStep());
    } finally {
      ranks[0].close();
    }
  }

  @Test
  void withoutPeerCopiesALostRankSendsTheJobToItsCheckpoint() throws Exception {
    ShardedRank[] ranks = trainTwoSteps(false);
    try {
      assertTrue(!ranks[0].peerCopy().valid(), "parallel.peer_copy: false keeps no copy");
      ranks[1].close();
      open.forEach(ClusterRank.Groups::close);
      open.clear();
      open.add(ranks[0].join(3, 0, 1, factory));
      assertEquals(-1, ranks[0].heldStep(), "shard 1 is held by no rank");
      assertTrue(ranks[0].describe().startsWith("no state: shard [1] of 2 at committed step 1 is held by no rank"),
          ranks[0].describe());
      IllegalStateException e = assertThrows(IllegalStateException.class,
          () -> ranks[0].compute(2, () -> packs.get(3)));
      assertTrue(e.getMessage().contains("holds no state"), e.getMessage());
      assertEquals(1, ranks[0].trainerForRestore().worldSize(), "laid out for the new group: a checkpoint loads into it");
    } finally {
      ranks[0].close();
    }
  }

  private final List<ClusterRank.Groups> open = new ArrayList<>();
  private List<PackedBatch> packs;
  private CollectiveFactory factory;

  @org.junit.jupiter.api.AfterEach
  void closeGroups() {
    open.forEach(ClusterRank.Groups::close);
  }

  /** Two ranks, two generations of world 2, one step each; returns them with their groups in {@link #open}. */
  private ShardedRank[] trainTwoSteps(boolean peerCopy) throws Exception {
    JobConfig config = JobConfigLoader.parse(TinyJob.yaml(dir, 4, "parallel:\n  sharding_strategy: FULL_SHARD\n"
        + "  peer_copy: " + peerCopy), List.of()).config();
    assertEquals(peerCopy, config.parallel().peerCopy());
    packs = new ArrayList<>();
    try (BatchSource s = PipelineShardSource.factory(config, 1).open(PipelineShardSource.shardName(0), "")) {
      for (int i = 0; i < 4; i++) {
        packs.add(PackedBatchArrow.fromIpcBytes(s.next().orElseThrow()));
      }
    }
    InMemoryRendezvous rendezvous = new InMemoryRendezvous();
    factory = (name, gen, r, size) -> TcpRingCollective.create(name, gen, r, size, rendezvous,
        TcpRingCollective.Options.loopback());
    ShardedRank[] ranks = {new ShardedRank(config), new ShardedRank(config)};
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
    return ranks;
  }
}
