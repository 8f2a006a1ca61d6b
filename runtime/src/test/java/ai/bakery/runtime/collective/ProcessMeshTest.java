package ai.bakery.runtime.collective;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ProcessMeshTest {

  @Test
  void dimsDeriveShardAndReplicateGroups() {
    ParallelDims dims = new ParallelDims(6, 3);
    assertEquals(2, dims.replicateDegree());
    assertEquals(List.of(3, 4, 5), dims.shardGroup(4));
    assertEquals(List.of(1, 4), dims.replicateGroup(4));
    assertEquals(1, dims.shardRank(4));
    assertEquals(1, dims.replicateRank(4));
    assertEquals(List.of(0, 1, 2, 3), new ParallelDims(4, 4).shardGroup(2));
    assertEquals(List.of(2), new ParallelDims(4, 4).replicateGroup(2));
    assertEquals(List.of(0, 1, 2, 3), new ParallelDims(4, 1).replicateGroup(0));
    assertThrows(IllegalArgumentException.class, () -> new ParallelDims(6, 4));
    assertThrows(IllegalArgumentException.class, () -> new ParallelDims(0, 1));
    assertThrows(IllegalArgumentException.class, () -> dims.shardGroup(6));
  }

  /** HSDP's gradient path (reduce-scatter in the shard group, then all-reduce across replicas) equals a world all-reduce. */
  @Test
  void hybridShardReductionMatchesAWorldAllReduce() throws Exception {
    ParallelDims dims = new ParallelDims(4, 2);
    CollectiveFactory factory = TcpRingCollective.factory(new InMemoryRendezvous(), RingFixtures.fastOptions());
    String prefix = RingFixtures.uniqueGroup("mesh");
    int per = 501;
    int count = per * dims.shardDegree();
    ExecutorService pool = Executors.newFixedThreadPool(dims.worldSize());
    try {
      List<Future<?>> ranks = new ArrayList<>();
      for (int r = 0; r < dims.worldSize(); r++) {
        int rank = r;
        ranks.add(pool.submit(() -> {
          try (ProcessMesh mesh = ProcessMesh.create(factory, prefix, 5, rank, dims);
              HostBuffer grads = HostBuffer.of(RingFixtures.floats(rank, count));
              HostBuffer shard = HostBuffer.allocate(DType.FLOAT32, per);
              HostBuffer whole = HostBuffer.of(RingFixtures.floats(rank, count))) {
            assertEquals(dims.shardRank(rank), mesh.shard().rank());
            assertEquals(dims.replicateRank(rank), mesh.replicate().rank());
            mesh.shard().reduceScatter(grads.pointer(), shard.pointer(), per, DType.FLOAT32, ReduceOp.SUM);
            mesh.replicate().allReduce(shard.pointer(), per, DType.FLOAT32, ReduceOp.SUM);
            mesh.world().allReduce(whole.pointer(), count, DType.FLOAT32, ReduceOp.SUM);
            float[] all = whole.toFloats();
            float[] want = new float[per];
            System.arraycopy(all, dims.shardRank(rank) * per, want, 0, per);
            assertArrayEquals(want, shard.toFloats());
            float[] reference = new float[count];
            for (int i = 0; i < count; i++) {
              reference[i] = RingFixtures.expected(ReduceOp.SUM, dims.worldSize(), i);
            }
            assertArrayEquals(reference, all);
          }
          return null;
        }));
      }
      for (Future<?> f : ranks) {
        f.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
  }
}
