package ai.bakery.runtime.parallel.fsdp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.model.bagel.BagelOutput;
import ai.bakery.model.nn.Init;
import ai.bakery.model.nn.Linear;
import ai.bakery.model.recompute.SegmentRunner;
import ai.bakery.model.recompute.SegmentedBackward;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.collective.ParallelDims;
import ai.bakery.runtime.optim.AdamW;
import ai.bakery.runtime.optim.GradClipper;
import ai.bakery.runtime.optim.OptimizerConfig;
import ai.bakery.runtime.parallel.GradientSync;
import ai.bakery.runtime.train.Ema;
import ai.bakery.runtime.train.StepResult;
import ai.bakery.runtime.train.TrainModel;
import ai.bakery.runtime.train.TrainStep;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The gather/reduce-scatter schedule when ranks' packs differ: a rank whose pack skips a chain another rank runs,
 * and a rank whose loss is empty (no backward at all), still match every collective, and the result equals one
 * process on all packs (with one step computed, discarded and computed again on the way). A small two-chain model keeps this fast; FULL_SHARD over 2 ranks and HYBRID_SHARD 2x2.
 */
class ShardedScheduleTest {
  private static final OptimizerConfig OPT = new OptimizerConfig(1e-2, 0.9, 0.95, 1e-8, 0.1, 1.0);
  private static final int STEPS = 4;
  private static final int HIDDEN = 12;

  @BeforeAll
  static void start() {
    Torch.init();
  }

  /** Chain "a" (2 layers) runs only for packs with an image; chain "b" (3 layers) always; "head" is unsegmented. */
  static final class TwoChains implements TrainModel {
    final NDManager root = NDManager.newBaseManager();
    final ParameterStore store = new ParameterStore(root);
    final List<Linear> a = new ArrayList<>();
    final List<Linear> b = new ArrayList<>();
    final Linear head;
    SegmentRunner runner = SegmentRunner.PLAIN;
    SegmentedBackward own;

    TwoChains(boolean ownRecompute) {
      Init init = Init.seeded(9);
      head = new Linear(store, "head", HIDDEN, 1, false, init);
      for (int i = 0; i < 2; i++) {
        a.add(new Linear(store, "a." + i, HIDDEN, HIDDEN, true, init));
      }
      for (int i = 0; i < 3; i++) {
        b.add(new Linear(store, "b." + i, HIDDEN, HIDDEN, true, init));
      }
      if (ownRecompute) {
        own = new SegmentedBackward();
        runner = own;
      }
    }

    static List<SegmentChain> chains() {
      return List.of(new SegmentChain("a", List.of("a.0.", "a.1."), p -> p.numVitImages() > 0),
          new SegmentChain("b", List.of("b.0.", "b.1.", "b.2."), p -> true));
    }

    @Override
    public ParameterStore store() {
      return store;
    }

    @Override
    public BagelOutput forward(PackedBatch batch, NDManager step) {
      if (own != null && own.pending() > 0) {
        own.discard(); // the previous micro-batch had no loss, so no backward
      }
      int t = batch.sequenceLength();
      float[] x = new float[t * HIDDEN];
      for (int i = 0; i < x.length; i++) {
        x[i] = (float) Math.sin(0.37 * i + batch.packedTextIds()[i / HIDDEN]);
      }
      NDArray h = step.create(x, new Shape(t, HIDDEN));
      if (batch.numVitImages() > 0) {
        h = runner.run(segments(a), h);
      }
      h = runner.run(segments(b), h);
      if (batch.ceLossIndexes().length == 0) {
        return new BagelOutput(null, null, 0, 0);
      }
      NDArray perToken = head.forward(h).reshape(-1).square(); // (T) stands in for the CE of each token
      return new BagelOutput(perToken, null, t, 0);
    }

    @Override
    public void afterBackward(GradientCollector gc) {
      if (own != null) {
        own.backward(gc);
      }
    }

    private static List<UnaryOperator<NDArray>> segments(List<Linear> layers) {
      List<UnaryOperator<NDArray>> out = new ArrayList<>();
      for (Linear l : layers) {
        out.add(h -> l.forward(h).tanh());
      }
      return out;
    }

    void close() {
      store.close();
      root.close();
    }
  }

  /** Pack {@code step * world + rank}: which ranks see an image and which have an empty loss vary by step. */
  static List<PackedBatch> packs(int world) {
    List<PackedBatch> out = new ArrayList<>();
    for (int s = 0; s < STEPS; s++) {
      for (int r = 0; r < world; r++) {
        boolean image = switch (s) {
          case 0 -> true;
          case 1 -> r == 0;
          case 2 -> r == world - 1;
          default -> false;
        };
        boolean loss = !(s == 2 && r == world - 1); // that rank runs forward, then has nothing to back-propagate
        out.add(pack(5 + s + r, s * 10 + r, image, loss));
      }
    }
    return out;
  }

  static PackedBatch pack(int t, int salt, boolean image, boolean loss) {
    int[] ids = new int[t];
    int[] idx = new int[t];
    for (int i = 0; i < t; i++) {
      ids[i] = (salt * 7 + i * 3) % 50;
      idx[i] = i;
    }
    return new PackedBatch(t, new int[] {t}, new int[] {t}, new String[] {"causal"}, ids, idx, idx, new float[0],
        new int[0], new int[0], new int[0], new int[0], new float[0], new int[0], image ? new float[4] : new float[0],
        image ? 4 : 0, new int[0], new int[0], image ? new int[] {1} : new int[0], ids, loss ? idx : new int[0],
        new float[0], new String[] {"p" + salt});
  }

  static Map<String, float[]> single(List<PackedBatch> packs, int world, List<double[]> losses) {
    TwoChains m = new TwoChains(true);
    try (AdamW adamW = new AdamW(m.store, OPT); Ema ema = new Ema(m.store, 0.5)) {
      TrainStep step = new TrainStep(m, m.root, TrainStep.Update.of(adamW, ema), new GradClipper(OPT.maxGradNorm()),
          TinyBagelRanks.loop(world), 3, 0, 1, TinyBagelRanks.groupCounts(packs, world), GradientSync.LOCAL);
      int[] next = {0};
      for (int s = 0; s < STEPS; s++) {
        StepResult r = step.run(s, OPT.lr(), () -> packs.get(next[0]++));
        losses.add(new double[] {r.ce(), r.gradNorm()});
      }
      Map<String, float[]> out = new LinkedHashMap<>();
      for (Parameter p : m.store.all().values()) {
        out.put(p.name(), p.value().toFloatArray());
        out.put("ema:" + p.name(), ema.get(p.name()).toFloatArray());
      }
      for (Map.Entry<String, Long> e : adamW.exportState().steps().entrySet()) {
        out.put("steps:" + e.getKey(), new float[] {e.getValue()});
      }
      return out;
    } finally {
      m.close();
    }
  }

  static Map<String, float[]> sharded(List<PackedBatch> packs, ParallelDims dims, List<double[]> losses)
      throws Exception {
    List<Map<String, float[]>> parts = TinyBagelRanks.runRanks(dims, (rank, mesh) -> {
      TwoChains m = new TwoChains(false);
      try (ShardedState state = new ShardedState(m.store, BagelShardPlan.unitPrefixes(TwoChains.chains()),
          mesh.shard(), mesh.replicate())) {
        ShardedTrainModel model = new ShardedTrainModel(m, r -> m.runner = r, TwoChains.chains(), state, true);
        Fsdp.Rank fsdp = new Fsdp.Rank(model, new ShardedGradientSync(model), state);
        state.startEma(0.5);
        TrainStep step = new TrainStep(model, m.root, fsdp.update(OPT), new GradClipper(OPT.maxGradNorm()),
            TinyBagelRanks.loop(1), 3, rank, dims.worldSize(), fsdp.counts(), fsdp.sync());
        Map<String, float[]> out = new LinkedHashMap<>();
        for (int s = 0; s < STEPS; s++) {
          int at = s * dims.worldSize() + rank;
          if (s == 1) {
            // the group abandons this step once (say a peer failed after computing): nothing may stick
            step.discard(step.compute(s, OPT.lr(), () -> packs.get(at)));
            model.reset();
          }
          StepResult r = step.run(s, OPT.lr(), () -> packs.get(at));
          if (rank == 0) {
            losses.add(new double[] {r.ce(), r.gradNorm()});
          }
        }
        assertEquals(0, state.gatheredParams());
        assertTrue(state.peakGatheredParams() <= state.rootParams() + state.largestSegmentParams());
        for (ShardSlice sl : state.params()) {
          out.put(sl.name() + "@" + sl.range().start() + "@" + sl.numel(), sl.shard().toFloatArray());
        }
        for (ShardSlice sl : state.ema()) {
          out.put("ema:" + sl.name() + "@" + sl.range().start() + "@" + sl.numel(), sl.shard().toFloatArray());
        }
        for (Map.Entry<String, Long> e : state.steps().entrySet()) {
          if (e.getValue() > 0) {
            out.put("steps:" + e.getKey() + "@0@1", new float[] {e.getValue()});
          }
        }
        return out;
      } finally {
        m.close();
      }
    });
    Map<String, float[]> whole = new LinkedHashMap<>();
    for (Map<String, float[]> part : parts) {
      for (Map.Entry<String, float[]> e : part.entrySet()) {
        String[] key = e.getKey().split("@");
        float[] w = whole.computeIfAbsent(key[0], k -> new float[Integer.parseInt(key[2])]);
        System.arraycopy(e.getValue(), 0, w, Integer.parseInt(key[1]), e.getValue().length);
      }
    }
    return whole;
  }

  private static void compare(ParallelDims dims) throws Exception {
    List<PackedBatch> packs = packs(dims.worldSize());
    List<double[]> l1 = new ArrayList<>();
    List<double[]> l2 = new ArrayList<>();
    Map<String, float[]> one = single(packs, dims.worldSize(), l1);
    Map<String, float[]> many = sharded(packs, dims, l2);
    for (int s = 0; s < STEPS; s++) {
      assertEquals(l1.get(s)[0], l2.get(s)[0], 1e-5 * Math.max(1, l1.get(s)[0]), "loss at step " + s);
      assertEquals(l1.get(s)[1], l2.get(s)[1], 1e-4 * Math.max(1, l1.get(s)[1]), "grad norm at step " + s);
    }
    float d = FullShardTest.maxAbsDiff(one, many);
    assertTrue(d <= 1e-5f, dims + ": weights, EMA or step counts differ by " + d);
    // chain a reaches a loss at steps 0 and 1 only (step 2: the rank with the image has no loss; step 3: no image)
    assertEquals(2, one.get("steps:a.0.weight")[0], 0, "AdamW steps of chain a");
    assertEquals(STEPS, one.get("steps:b.0.weight")[0], 0, "AdamW steps of chain b");
  }

  @Test
  void fullShardMatchesOneProcessWhenPacksSkipChains() throws Exception {
    compare(new ParallelDims(2, 2));
  }

  @Test
  void hybridShardTwoByTwoMatchesOneProcess() throws Exception {
    compare(new ParallelDims(4, 2));
  }
}
