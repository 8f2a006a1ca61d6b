package ai.bakery.runtime.parallel.fsdp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.checkpoint.CheckpointManager;
import ai.bakery.runtime.checkpoint.ShardedReader;
import ai.bakery.runtime.checkpoint.ShardedSaver;
import ai.bakery.runtime.collective.ParallelDims;
import ai.bakery.runtime.optim.GradClipper;
import ai.bakery.runtime.optim.OptimizerConfig;
import ai.bakery.runtime.train.TrainStep;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * FULL_SHARD state through the sharded checkpoint: 2 ranks save their slices of weights, EMA and moments under the
 * single-process names, and both a fresh 2-rank state and a 1-rank state restore them exactly (resharding on load).
 */
class ShardedCheckpointPartsTest {
  private static final OptimizerConfig OPT = new OptimizerConfig(1e-2, 0.9, 0.95, 1e-8, 0.1, 1.0);
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  static Path tmp;

  @BeforeAll
  static void start() {
    Torch.init();
  }

  @Test
  void slicesSavedByTwoRanksRestoreAtTwoAndOneRanks() throws Exception {
    List<PackedBatch> packs = ShardedScheduleTest.packs(2);
    Path root = tmp.resolve("ckpt");
    List<Map<String, float[]>> saved = TinyBagelRanks.runRanks(new ParallelDims(2, 2), (rank, mesh) -> {
      ShardedScheduleTest.TwoChains m = new ShardedScheduleTest.TwoChains(false);
      ShardedScheduleTest.TwoChains fresh = new ShardedScheduleTest.TwoChains(false);
      List<String> units = BagelShardPlan.unitPrefixes(ShardedScheduleTest.TwoChains.chains());
      try (ShardedState state = new ShardedState(m.store, units, mesh.shard(), mesh.replicate());
          ShardedState restored = new ShardedState(fresh.store, units, mesh.shard(), mesh.replicate())) {
        ShardedTrainModel model = new ShardedTrainModel(m, r -> m.runner = r, ShardedScheduleTest.TwoChains.chains(),
            state, true);
        Fsdp.Rank fsdp = new Fsdp.Rank(model, new ShardedGradientSync(model), state);
        state.startEma(0.5);
        restored.startEma(0.5);
        TrainStep step = new TrainStep(model, m.root, fsdp.update(OPT), new GradClipper(1.0), TinyBagelRanks.loop(1),
            3, rank, 2, fsdp.counts(), fsdp.sync());
        for (int s = 0; s < 2; s++) {
          int at = s * 2 + rank;
          step.run(s, OPT.lr(), () -> packs.get(at));
        }
        Map<String, Long> steps = ShardedCheckpointParts.optimizerSteps(state);
        try (ShardedSaver saver = new ShardedSaver(ShardedSaver.Config.of(root, mesh.shard().rank(), 2))) {
          String opt = JSON.writeValueAsString(Map.of("steps", steps));
          saver.snapshot(new ShardedSaver.Request(1, ShardedCheckpointParts.groups(state), Map.of(),
              rank == 0 ? Map.of(CheckpointManager.OPTIMIZER_JSON, opt) : null)).done().join();
        }
        mesh.world().barrier(); // rank 0 committed once both parts were written
        Path dir = root.resolve(CheckpointManager.stepName(1));
        try (ShardedReader reader = ShardedReader.open(dir)) {
          JsonNode json = JSON.readTree(reader.stepFile(CheckpointManager.OPTIMIZER_JSON).orElseThrow());
          Map<String, Long> read = new LinkedHashMap<>();
          json.get("steps").fields().forEachRemaining(e -> read.put(e.getKey(), e.getValue().asLong()));
          assertEquals(steps, read);
          ShardedCheckpointParts.restore(reader, restored, read, false);
        }
        Map<String, float[]> out = new LinkedHashMap<>();
        assertSame(state.params(), restored.params(), out, "w:");
        assertSame(state.ema(), restored.ema(), out, "ema:");
        assertSame(state.expAvg(), restored.expAvg(), out, "m:");
        assertSame(state.expAvgSq(), restored.expAvgSq(), out, "v:");
        assertEquals(state.steps(), restored.steps());
        return out;
      } finally {
        m.close();
        fresh.close();
      }
    });

    // one rank takes the whole state from the 2-rank checkpoint
    ShardedScheduleTest.TwoChains one = new ShardedScheduleTest.TwoChains(false);
    try (ShardedState whole = new ShardedState(one.store, List.of(), null, null);
        ShardedReader reader = ShardedReader.open(root.resolve(CheckpointManager.stepName(1)))) {
      whole.startEma(0.5);
      JsonNode json = JSON.readTree(reader.stepFile(CheckpointManager.OPTIMIZER_JSON).orElseThrow());
      Map<String, Long> steps = new LinkedHashMap<>();
      json.get("steps").fields().forEachRemaining(e -> steps.put(e.getKey(), e.getValue().asLong()));
      ShardedCheckpointParts.restore(reader, whole, steps, false);
      for (ShardSlice s : whole.params()) {
        float[] expect = new float[(int) s.numel()];
        for (Map<String, float[]> part : saved) {
          for (Map.Entry<String, float[]> e : part.entrySet()) {
            String[] k = e.getKey().split("@");
            if (k[0].equals("w:" + s.name())) {
              System.arraycopy(e.getValue(), 0, expect, Integer.parseInt(k[1]), e.getValue().length);
            }
          }
        }
        assertArrayEquals(expect, s.shard().toFloatArray(), s.name() + " resharded 2 -> 1");
      }
      assertTrue(whole.steps().get("b.0.weight") > 0);
    } finally {
      one.close();
    }
  }

  private static void assertSame(List<ShardSlice> a, List<ShardSlice> b, Map<String, float[]> out, String tag) {
    assertEquals(a.size(), b.size(), tag);
    for (int i = 0; i < a.size(); i++) {
      float[] x = a.get(i).shard().toFloatArray();
      assertArrayEquals(x, b.get(i).shard().toFloatArray(), tag + a.get(i).name());
      out.put(tag + a.get(i).name() + "@" + a.get(i).range().start(), x);
    }
  }
}
