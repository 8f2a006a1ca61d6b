package ai.bakery.runtime.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.train.StepResult;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * N data-parallel ranks (threads, TCP ring over loopback) training the tiny BAGEL, each on its own packs, end
 * with the weights and EMA of one process that accumulates the same packs as N micro-batches a step; the ranks
 * end bit-identical to each other.
 */
class DataParallelTrainingTest {
  private static final Logger LOG = LoggerFactory.getLogger(DataParallelTrainingTest.class);
  /**
   * fp32: the ranks' averaged gradient and the process's accumulated one differ only in summation order, and
   * AdamW's epsilon (see {@link TinyRanks#job}) bounds how far the optimizer amplifies that. Measured (max |w -
   * w_ref| over every weight, EMA alike): 0.0 with 2 ranks (bit-identical), 1.2e-7 with 3 ranks; with the
   * reference's epsilon of 1e-15 a CI machine with other kernels saw 1.2e-5.
   */
  static final double TOLERANCE = 1e-6;

  @TempDir
  static Path dir;
  static List<PackedBatch> packs;

  @BeforeAll
  static void data() throws Exception {
    Torch.init();
    packs = TinyRanks.packs(dir, 15);
  }

  @Test
  void twoRanksTrainLikeOneProcessAccumulatingTheirPacks() throws Exception {
    check(2, 4);
  }

  @Test
  void threeRanksTrainLikeOneProcessAccumulatingTheirPacks() throws Exception {
    check(3, 3);
  }

  private void check(int world, int steps) throws Exception {
    long start = System.nanoTime();
    List<TinyRanks.Outcome> ranks = TinyRanks.onRanks(world, (group, rank) -> {
      try (RankTrainer t = RankTrainer.create(TinyRanks.job(dir, 1), group)) {
        t.broadcastState(0);
        List<StepResult> results = new ArrayList<>();
        for (int s = 0; s < steps; s++) {
          int pack = s * world + rank;
          t.compute(s, () -> packs.get(pack));
          results.add(t.commit());
        }
        assertEquals(steps - 1, t.committedStep());
        return TinyRanks.outcome(t, results);
      }
    });
    long ranksDone = System.nanoTime();
    TinyRanks.Outcome ref = TinyRanks.reference(dir, packs, world, steps);
    double wDiff = TinyRanks.maxAbsDiff(ranks.get(0).weights(), ref.weights());
    double eDiff = TinyRanks.maxAbsDiff(ranks.get(0).ema(), ref.ema());
    LOG.info("{} ranks x {} steps: max |w - w_ref| = {}, max |ema - ema_ref| = {} ({} s ranks, {} s reference)",
        world, steps, wDiff, eDiff, (ranksDone - start) / 1e9,
        (System.nanoTime() - ranksDone) / 1e9);
    for (int r = 1; r < world; r++) {
      assertEquals(ranks.get(0).fingerprint(), ranks.get(r).fingerprint(), "rank " + r + " differs from rank 0");
    }
    assertTrue(wDiff <= TOLERANCE, "weights differ from the one-process run by " + wDiff);
    assertTrue(eDiff <= TOLERANCE, "EMA differs from the one-process run by " + eDiff);
    // the weights moved: a comparison of untouched weights could not fail
    assertTrue(TinyRanks.maxAbsDiff(ref.weights(), initial()) > 100 * TOLERANCE);
    for (int s = 0; s < steps; s++) {
      StepResult ours = ranks.get(0).steps().get(s);
      StepResult theirs = ref.steps().get(s);
      assertEquals(theirs.ce(), ours.ce(), 1e-5 * Math.max(1, Math.abs(theirs.ce())), "ce at step " + s);
      assertEquals(theirs.mse(), ours.mse(), 1e-5 * Math.max(1, Math.abs(theirs.mse())), "mse at step " + s);
      assertEquals(theirs.gradNorm(), ours.gradNorm(), 1e-4 * theirs.gradNorm(), "grad norm at step " + s);
      long ce = 0;
      long mse = 0;
      for (TinyRanks.Outcome o : ranks) {
        ce += o.steps().get(s).ceTokens();
        mse += o.steps().get(s).mseTokens();
      }
      assertEquals(theirs.ceTokens(), ce, "CE tokens at step " + s);
      assertEquals(theirs.mseTokens(), mse, "MSE tokens at step " + s);
    }
    assertTrue(ref.steps().stream().anyMatch(r -> r.mseTokens() > 0) && ref.steps().stream()
        .anyMatch(r -> r.ceTokens() > 0), "both loss terms exercised");
  }

  private static Map<String, float[]> initial() {
    try (RankTrainer t = RankTrainer.create(TinyRanks.job(dir, 1), null)) {
      return TinyRanks.copy(t.store());
    }
  }
}
