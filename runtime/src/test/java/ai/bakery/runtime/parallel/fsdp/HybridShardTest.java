package ai.bakery.runtime.parallel.fsdp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.collective.ParallelDims;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HYBRID_SHARD 2x2 (two replicas of a 2-way shard group, 4 ranks as threads) trains the tiny BAGEL with recompute
 * as one process taking all four packs of each step: same losses, weights, moments and EMA within the stated
 * tolerance; each rank holds half the state (its shard group's share).
 */
class HybridShardTest {
  private static final Logger LOG = LoggerFactory.getLogger(HybridShardTest.class);
  private static final int STEPS = 2;
  private static final float TOL = 5e-5f;

  @TempDir
  static Path tmp;
  static List<PackedBatch> packs;

  @BeforeAll
  static void data() throws Exception {
    Torch.init();
    packs = TinyBagelRanks.packs(tmp, 4 * STEPS);
  }

  @Test
  void twoByTwoHybridShardEqualsOneProcess() throws Exception {
    FullShardTest.Run single = FullShardTest.singleProcess(packs, 4, STEPS);
    List<FullShardTest.Run> ranks = TinyBagelRanks.runRanks(new ParallelDims(4, 2),
        (rank, mesh) -> FullShardTest.shardedRank(packs, STEPS, mesh));
    // replicas hold the same shards: merge one shard group's ranks (0 and 1), then check the other replica equals it
    FullShardTest.Run replica0 = FullShardTest.merge(ranks.subList(0, 2), STEPS);
    FullShardTest.Run replica1 = FullShardTest.merge(ranks.subList(2, 4), STEPS);
    assertEquals(0f, FullShardTest.maxAbsDiff(replica0.params(), replica1.params()), "replicas agree exactly");
    for (int s = 0; s < STEPS; s++) {
      double[] a = single.losses().get(s);
      double[] b = replica0.losses().get(s);
      assertEquals(a[0], b[0], 1e-4 * Math.max(1, a[0]), "ce at step " + s);
      assertEquals(a[1], b[1], 1e-4 * Math.max(1, a[1]), "mse at step " + s);
      assertEquals(a[2], b[2], 1e-3 * Math.max(1, a[2]), "grad norm at step " + s);
    }
    float dParams = FullShardTest.maxAbsDiff(single.params(), replica0.params());
    float dMoments = FullShardTest.maxAbsDiff(single.expAvg(), replica0.expAvg());
    float dEma = FullShardTest.maxAbsDiff(single.ema(), replica0.ema());
    LOG.info("HYBRID_SHARD 2x2 vs one process after {} steps: max |dw| {}, max |d exp_avg| {}, max |d ema| {}",
        STEPS, dParams, dMoments, dEma);
    assertTrue(dParams <= TOL && dMoments <= TOL && dEma <= TOL, dParams + " " + dMoments + " " + dEma);
    assertEquals(single.steps(), replica0.steps());
    for (FullShardTest.Run r : ranks) {
      double ratio = (double) r.stateBytes() / single.stateBytes();
      assertTrue(ratio > 0.45 && ratio < 0.55, "a rank holds " + ratio + " of the state");
      assertEquals(r.bound(), r.peakGathered());
    }
  }
}
