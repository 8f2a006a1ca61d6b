package ai.bakery.runtime.parallel.fsdp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.model.config.ConfigException;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.collective.ParallelDims;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.ParallelSection;
import ai.bakery.runtime.train.StepResult;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A FULL_SHARD job rank built from the job config: 2 ranks train the tiny preset with recompute for 2 steps. */
class ShardedRankTrainerTest {
  @TempDir
  static Path tmp;
  static List<PackedBatch> packs;
  static JobConfig job;

  @BeforeAll
  static void data() throws Exception {
    Torch.init();
    packs = TinyBagelRanks.packs(tmp, 4);
    job = TinyBagelRanks.job(tmp, "  gradient_checkpointing: true");
  }

  @Test
  void twoRanksTrainTheTinyJobFromItsConfig() throws Exception {
    List<double[]> seen = TinyBagelRanks.runRanks(new ParallelDims(2, 2), (rank, mesh) -> {
      try (ShardedRankTrainer t = ShardedRankTrainer.create(job, mesh)) {
        assertTrue(t.state().hasEma());
        assertEquals(2, t.state().shardSize());
        double[] out = new double[5];
        for (int s = 0; s < 2; s++) {
          int at = s * 2 + rank;
          t.compute(t.nextStep(), () -> packs.get(at));
          StepResult r = t.commit();
          assertFalse(r.skipped(), "step " + s);
          assertTrue(Double.isFinite(r.ce()) && Double.isFinite(r.mse()) && r.gradNorm() > 0);
          out[2 * s] = r.ce();
          out[2 * s + 1] = r.gradNorm();
        }
        assertEquals(1, t.committedStep());
        assertEquals(0, t.state().gatheredParams());
        out[4] = t.state().stateBytes();
        return out;
      }
    });
    for (int i = 0; i < 4; i++) {
      assertEquals(seen.get(0)[i], seen.get(1)[i], "both ranks log the group's ce and grad norm");
    }
    assertEquals(seen.get(0)[4], seen.get(1)[4], 4 * 64, "equal halves of the state");
  }

  @Test
  void meshFollowsTheStrategyAndBadSizesAreNamed() {
    assertEquals(new ParallelDims(4, 4), ShardedRankTrainer.dims(new ParallelSection("FULL_SHARD", 8, 1,
        "BACKWARD_PRE", false), 4));
    assertEquals(new ParallelDims(4, 2), ShardedRankTrainer.dims(new ParallelSection("HYBRID_SHARD", 2, 2,
        "BACKWARD_PRE", false), 4));
    ConfigException e = assertThrows(ConfigException.class, () -> ShardedRankTrainer.dims(
        new ParallelSection("HYBRID_SHARD", 3, 1, "BACKWARD_PRE", false), 4));
    assertTrue(e.getMessage().startsWith("parallel.num_shard"), e.getMessage());
    e = assertThrows(ConfigException.class, () -> ShardedRankTrainer.dims(
        new ParallelSection("SHARD_GRAD_OP", 2, 1, "BACKWARD_PRE", false), 4));
    assertTrue(e.getMessage().startsWith("parallel.sharding_strategy"), e.getMessage());
  }
}
