package ai.bakery.runtime.parallel.fsdp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.model.bagel.Bagel;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.bakery.model.vae.FluxAutoencoder;
import ai.bakery.runtime.collective.ParallelDims;
import ai.bakery.runtime.optim.AdamW;
import ai.bakery.runtime.optim.GradClipper;
import ai.bakery.runtime.parallel.GradientSync;
import ai.bakery.runtime.train.Ema;
import ai.bakery.runtime.train.StepResult;
import ai.bakery.runtime.train.TrainStep;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * FULL_SHARD over 2 ranks (threads, loopback TCP rings) trains the tiny BAGEL with activation recompute exactly as
 * one process taking both ranks' packs: same losses, and after 5 steps the same weights, AdamW moments and EMA
 * within a stated fp32 tolerance; each rank holds about half the state, and never more than one segment's
 * weights (plus the unsegmented ones) gathered at once.
 */
class FullShardTest {
  private static final Logger LOG = LoggerFactory.getLogger(FullShardTest.class);
  private static final int STEPS = 5;
  private static final double EMA = 0.9;
  private static final double LR = 2e-3;
  /** Stated tolerance: different summation orders (ring reduce-scatter, split norms) over 5 AdamW steps. */
  private static final float TOL = 5e-5f;

  @TempDir
  static Path tmp;
  static List<PackedBatch> packs;

  @BeforeAll
  static void data() throws Exception {
    Torch.init();
    packs = TinyBagelRanks.packs(tmp, 2 * STEPS);
    for (PackedBatch p : packs) {
      LOG.info("pack: {} tokens, {} ViT images, {} VAE images, {} CE, {} MSE tokens", p.sequenceLength(),
          p.numVitImages(), p.numVaeImages(), p.ceLossIndexes().length, p.mseLossIndexes().length);
    }
  }

  /** A whole model's tensors by name (full shapes flattened), and what a run measured. */
  record Run(List<double[]> losses, Map<String, float[]> params, Map<String, float[]> expAvg, Map<String, float[]> ema,
      Map<String, Long> steps, long stateBytes, int peakGathered, int bound, int totalParams) {}

  @Test
  void twoRankFullShardEqualsOneProcess() throws Exception {
    Run single = singleProcess(packs, 2, STEPS);
    List<Run> ranks = TinyBagelRanks.runRanks(new ParallelDims(2, 2), (rank, mesh) -> shardedRank(packs, STEPS, mesh));
    Run sharded = merge(ranks, STEPS);

    for (int s = 0; s < STEPS; s++) {
      double[] a = single.losses().get(s);
      double[] b = sharded.losses().get(s);
      assertEquals(a[0], b[0], 1e-4 * Math.max(1, a[0]), "ce at step " + s);
      assertEquals(a[1], b[1], 1e-4 * Math.max(1, a[1]), "mse at step " + s);
      assertEquals(a[2], b[2], 1e-3 * Math.max(1, a[2]), "grad norm at step " + s);
    }
    float dParams = maxAbsDiff(single.params(), sharded.params());
    float dMoments = maxAbsDiff(single.expAvg(), sharded.expAvg());
    float dEma = maxAbsDiff(single.ema(), sharded.ema());
    LOG.info("FULL_SHARD 2 ranks vs one process after {} steps: max |dw| {}, max |d exp_avg| {}, max |d ema| {}",
        STEPS, dParams, dMoments, dEma);
    assertTrue(dParams <= TOL, "weights differ by " + dParams);
    assertTrue(dMoments <= TOL, "exp_avg differs by " + dMoments);
    assertTrue(dEma <= TOL, "ema differs by " + dEma);
    assertEquals(single.steps(), sharded.steps(), "AdamW step counts per parameter");
    assertTrue(changed(single), "training moved the weights");

    for (Run r : ranks) {
      double ratio = (double) r.stateBytes() / single.stateBytes();
      LOG.info("rank state {} bytes = {} of the single process's {} bytes; peak gathered {} parameters (bound {} of {})",
          r.stateBytes(), String.format("%.4f", ratio), single.stateBytes(), r.peakGathered(), r.bound(), r.totalParams());
      assertTrue(ratio > 0.45 && ratio < 0.55, "a rank holds " + ratio + " of the state");
      assertEquals(r.bound(), r.peakGathered(), "peak gathered = the unsegmented parameters + the largest segment");
      assertTrue(r.peakGathered() < r.totalParams() / 2, "far fewer than all parameters gathered at once");
    }
  }

  private static boolean changed(Run single) {
    try (NDManager root = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(root)) {
      TinyBagelRanks.bagel(store, Init.seeded(TinyBagelRanks.SEED));
      for (Parameter p : store.all().values()) {
        float[] before = p.value().toFloatArray();
        float[] after = single.params().get(p.name());
        for (int i = 0; i < before.length; i++) {
          if (before[i] != after[i]) {
            return true;
          }
        }
      }
      return false;
    }
  }

  /** One process, {@code world} micro-batches per step (the ranks' packs of the step), gradient checkpointing on. */
  static Run singleProcess(List<PackedBatch> packs, int world, int steps) {
    try (NDManager root = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(root);
        ParameterStore vaeStore = new ParameterStore(root)) {
      Bagel bagel = TinyBagelRanks.bagel(store, Init.seeded(TinyBagelRanks.SEED));
      FluxAutoencoder vae = TinyBagelRanks.vae(vaeStore);
      try (AdamW adamW = new AdamW(store, TinyBagelRanks.OPTIMIZER); Ema ema = new Ema(store, EMA)) {
        TrainStep step = new TrainStep(new DeterministicBagel(bagel, vae, packs, true), root, TrainStep.Update.of(adamW, ema),
            new GradClipper(TinyBagelRanks.OPTIMIZER.maxGradNorm()), TinyBagelRanks.loop(world), TinyBagelRanks.SEED,
            0, 1, TinyBagelRanks.groupCounts(packs, world), GradientSync.LOCAL);
        int[] next = {0};
        List<double[]> losses = new ArrayList<>();
        for (int s = 0; s < steps; s++) {
          StepResult r = step.run(s, LR, () -> packs.get(next[0]++));
          losses.add(new double[] {r.ce(), r.mse(), r.gradNorm()});
        }
        Map<String, float[]> params = new LinkedHashMap<>();
        Map<String, float[]> emaOut = new LinkedHashMap<>();
        long bytes = 0;
        for (Parameter p : store.all().values()) {
          params.put(p.name(), p.value().toFloatArray());
          emaOut.put(p.name(), ema.get(p.name()).toFloatArray());
          bytes += p.value().size() * 4;
          if (ema.tracks(p.name())) {
            bytes += p.value().size() * 4;
          }
        }
        AdamW.State st = adamW.exportState();
        Map<String, float[]> expAvg = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : st.tensors().entrySet()) {
          bytes += e.getValue().size() * 4;
          if (e.getKey().endsWith(AdamW.EXP_AVG)) {
            expAvg.put(e.getKey().substring(0, e.getKey().length() - AdamW.EXP_AVG.length()), e.getValue().toFloatArray());
          }
        }
        Map<String, Long> adamSteps = new LinkedHashMap<>();
        for (Parameter p : store.all().values()) {
          adamSteps.put(p.name(), st.steps().getOrDefault(p.name(), 0L));
        }
        return new Run(losses, params, expAvg, emaOut, adamSteps, bytes, 0, 0, store.all().size());
      }
    }
  }

  /** One sharded rank of {@code mesh}: rank {@code r} of {@code w} takes pack {@code step * w + r} of every step. */
  static Run shardedRank(List<PackedBatch> packs, int steps, ai.bakery.runtime.collective.ProcessMesh mesh) {
    int world = mesh.dims().worldSize();
    try (NDManager root = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(root);
        ParameterStore vaeStore = new ParameterStore(root)) {
      Bagel bagel = TinyBagelRanks.bagel(store, Init.seeded(TinyBagelRanks.SEED));
      FluxAutoencoder vae = TinyBagelRanks.vae(vaeStore);
      try (Fsdp.Rank fsdp = Fsdp.apply(bagel, new DeterministicBagel(bagel, vae, packs, false), mesh.shard(),
          mesh.replicate(), true, EMA, null)) {
        TrainStep step = new TrainStep(fsdp.model(), root, fsdp.update(TinyBagelRanks.OPTIMIZER),
            new GradClipper(TinyBagelRanks.OPTIMIZER.maxGradNorm()), TinyBagelRanks.loop(1), TinyBagelRanks.SEED,
            mesh.rank(), world, fsdp.counts(), fsdp.sync());
        List<double[]> losses = new ArrayList<>();
        fsdp.state().resetPeaks();
        for (int s = 0; s < steps; s++) {
          int at = s * world + mesh.rank();
          StepResult r = step.run(s, LR, () -> packs.get(at));
          losses.add(new double[] {r.ce(), r.mse(), r.gradNorm()});
        }
        ShardedState st = fsdp.state();
        assertEquals(0, st.gatheredParams(), "nothing stays gathered between steps");
        Map<String, float[]> params = slices(st.params());
        Map<String, float[]> expAvg = slices(st.expAvg());
        Map<String, float[]> ema = slices(st.ema());
        return new Run(losses, params, expAvg, ema, new LinkedHashMap<>(st.steps()), st.stateBytes(),
            st.peakGatheredParams(), st.rootParams() + st.largestSegmentParams(), store.all().size());
      }
    }
  }

  /** Slices keyed by "name@start" so that ranks' pieces can be put back together. */
  private static Map<String, float[]> slices(List<ShardSlice> list) {
    Map<String, float[]> out = new LinkedHashMap<>();
    for (ShardSlice s : list) {
      out.put(s.name() + "@" + s.range().start() + "@" + s.numel(), s.shard().toFloatArray());
    }
    return out;
  }

  /** The ranks' slices put back into whole tensors. */
  static Run merge(List<Run> ranks, int steps) {
    Map<String, float[]> params = join(ranks, Run::params);
    Map<String, float[]> expAvg = join(ranks, Run::expAvg);
    Map<String, float[]> ema = join(ranks, Run::ema);
    Run first = ranks.get(0);
    for (Run r : ranks) {
      for (int s = 0; s < steps; s++) {
        assertEquals(first.losses().get(s)[0], r.losses().get(s)[0], "every rank logs the same ce");
        assertEquals(first.losses().get(s)[2], r.losses().get(s)[2], "every rank sees the same grad norm");
      }
      assertEquals(first.steps(), r.steps(), "every rank counts the same AdamW steps");
    }
    return new Run(first.losses(), params, expAvg, ema, first.steps(), 0, 0, 0, 0);
  }

  private static Map<String, float[]> join(List<Run> ranks, java.util.function.Function<Run, Map<String, float[]>> part) {
    Map<String, float[]> out = new LinkedHashMap<>();
    for (Run r : ranks) {
      for (Map.Entry<String, float[]> e : part.apply(r).entrySet()) {
        String[] key = e.getKey().split("@");
        float[] whole = out.computeIfAbsent(key[0], k -> new float[Integer.parseInt(key[2])]);
        System.arraycopy(e.getValue(), 0, whole, Integer.parseInt(key[1]), e.getValue().length);
      }
    }
    return out;
  }

  static float maxAbsDiff(Map<String, float[]> a, Map<String, float[]> b) {
    assertEquals(a.keySet(), b.keySet(), "the same tensors");
    float max = 0;
    for (String name : a.keySet()) {
      float[] x = a.get(name);
      float[] y = b.get(name);
      assertEquals(x.length, y.length, name);
      for (int i = 0; i < x.length; i++) {
        float d = Math.abs(x[i] - y[i]);
        if (!(d <= max)) {
          max = Float.isNaN(d) ? Float.NaN : d;
          if (Float.isNaN(d)) {
            return d;
          }
        }
      }
    }
    return max;
  }
}
