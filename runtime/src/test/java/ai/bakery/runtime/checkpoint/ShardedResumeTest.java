package ai.bakery.runtime.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.optim.AdamW;
import ai.bakery.runtime.optim.OptimizerConfig;
import ai.bakery.runtime.train.Ema;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The single-process trainer resumes from a checkpoint saved by 3 ranks (world 1: full tensors). */
class ShardedResumeTest {
  @TempDir
  Path tmp;

  @BeforeAll
  static void start() {
    Torch.init();
  }

  /** Two weights of sizes 3 ranks split unevenly, an optimizer after two steps and an EMA apart from the weights. */
  private static final class Rig implements AutoCloseable {
    final NDManager m = NDManager.newBaseManager();
    final ParameterStore store = new ParameterStore(m);
    final Parameter w;
    final Parameter b;
    final AdamW opt;
    final Ema ema;

    Rig(float w0) {
      w = store.create("language_model.w", new Shape(7), mm -> mm.arange(w0, w0 + 7f));
      b = store.create("vit.b", new Shape(2, 2), mm -> mm.create(new float[] {w0, -1f, 0.5f, 2f}, new Shape(2, 2)));
      opt = new AdamW(store, OptimizerConfig.DEFAULTS);
      ema = new Ema(store, 0.5);
    }

    void train() {
      try (NDManager s = m.newSubManager(); GradientCollector gc = Torch.init().newGradientCollector()) {
        gc.backward(w.value().mul(w.value()).sum().add(b.value().mul(s.arange(1f, 5f).reshape(2, 2)).sum()));
      }
      opt.step(0.1);
      ema.update();
    }

    /** Saves step {@code step} as {@code world} data-parallel ranks, rank 0 committing. */
    Path saveSharded(Path root, long step, int world) {
      List<ShardedSaver> savers = new ArrayList<>();
      List<ShardedSaver.Ticket> tickets = new ArrayList<>();
      AdamW.State o = opt.exportState();
      Map<String, String> files = CheckpointManager.stepFiles(
          new CheckpointManager.OptimizerSettings(0.1, 0.9, 0.95, 1e-15, 0), o.steps(),
          new SchedulerState(step + 1, 0.1, "constant", 0, 100, 0, 0.1),
          new TrainState(step, 2 * step, 4396, world, 0, 100 * step), List.of("{\"rank\":0}", "{\"rank\":1}"));
      for (int r = 0; r < world; r++) {
        ShardedSaver s = new ShardedSaver(ShardedSaver.Config.of(root, r, world));
        savers.add(s);
        tickets.add(s.snapshot(ShardedSaver.Request.of(step,
            ShardedTensor.allOfFull(CheckpointManager.namedValues(store), r, world),
            ShardedTensor.allOfFull(ema.stateDict(), r, world), ShardedTensor.allOfFull(o.tensors(), r, world),
            Map.of(), r == 0 ? files : null)));
      }
      tickets.forEach(t -> t.done().join());
      savers.forEach(ShardedSaver::close);
      return root.resolve(CheckpointManager.stepName(step));
    }

    @Override
    public void close() {
      ema.close();
      opt.close();
      store.close();
      m.close();
    }
  }

  private static int[] bits(float[] f) {
    int[] out = new int[f.length];
    for (int i = 0; i < f.length; i++) {
      out[i] = Float.floatToRawIntBits(f[i]);
    }
    return out;
  }

  @Test
  void autoResumeTakesTheNewestShardedCheckpointAndRestoresEverythingExactly() {
    Path root = tmp.resolve("ckpt");
    CheckpointConfig cfg = new CheckpointConfig(root, 10, true, null, false, false, false, 0);
    int[] w;
    int[] b;
    int[] emaW;
    int[] avgSq;
    try (Rig r = new Rig(1f)) {
      r.train();
      // an older single-process checkpoint beside it: the newer sharded one must win
      new CheckpointManager(cfg).save(new CheckpointManager.Snapshot(r.store, r.ema.stateDict(),
          r.opt.exportState(), new CheckpointManager.OptimizerSettings(0.1, 0.9, 0.95, 1e-15, 0),
          new SchedulerState(2, 0.1, "constant", 0, 100, 0, 0.1), new TrainState(1, 2, 4396, 1, 0, 100), null));
      r.train();
      r.saveSharded(root, 2, 3);
      w = bits(r.w.value().toFloatArray());
      b = bits(r.b.value().toFloatArray());
      emaW = bits(r.ema.get("language_model.w").toFloatArray());
      avgSq = bits(r.opt.exportState().tensors().get("vit.b" + AdamW.EXP_AVG_SQ).toFloatArray());
    }
    try (Rig fresh = new Rig(-5f)) {
      CheckpointManager cm = new CheckpointManager(cfg);
      CheckpointManager.Plan plan = cm.plan().orElseThrow();
      assertEquals(root.resolve("0000002"), plan.dir());
      CheckpointManager.Restored back = cm.restore(plan, fresh.store, fresh.ema, fresh.opt);
      assertEquals(3, back.nextStep());
      assertEquals(3, back.trainState().worldSize());
      assertEquals(List.of("{\"rank\":0}", "{\"rank\":1}"), back.dataStatus());
      assertArrayEquals(w, bits(fresh.w.value().toFloatArray()));
      assertArrayEquals(b, bits(fresh.b.value().toFloatArray()));
      assertArrayEquals(emaW, bits(fresh.ema.get("language_model.w").toFloatArray()));
      AdamW.State o = fresh.opt.exportState();
      assertArrayEquals(avgSq, bits(o.tensors().get("vit.b" + AdamW.EXP_AVG_SQ).toFloatArray()));
      assertEquals(2L, o.steps().get("vit.b"));
    }
  }

  @Test
  void modelOnlyFromEmaOfAShardedCheckpoint() {
    Path saved;
    int[] emaW;
    try (Rig r = new Rig(1f)) {
      r.train();
      saved = r.saveSharded(tmp.resolve("ckpt"), 5, 2);
      emaW = bits(r.ema.get("language_model.w").toFloatArray());
      assertFalse(java.util.Arrays.equals(emaW, bits(r.w.value().toFloatArray())));
    }
    try (Rig fresh = new Rig(-5f)) {
      CheckpointManager cm = new CheckpointManager(
          new CheckpointConfig(tmp.resolve("other"), 10, false, saved, true, true, false, 0));
      CheckpointManager.Restored back = cm.restore(cm.plan().orElseThrow(), fresh.store, fresh.ema, fresh.opt);
      assertEquals(0, back.nextStep());
      assertArrayEquals(emaW, bits(fresh.w.value().toFloatArray()));
    }
  }
}
