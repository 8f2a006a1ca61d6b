package ai.bakery.runtime.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.optim.AdamW;
import ai.bakery.runtime.optim.OptimizerConfig;
import ai.bakery.runtime.train.Ema;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointManagerTest {
  @TempDir
  Path tmp;

  @BeforeAll
  static void start() {
    Torch.init();
  }

  /** A two-weight model with an optimizer that has taken one step and an EMA that differs from the weights. */
  private static final class Rig implements AutoCloseable {
    final NDManager m = NDManager.newBaseManager();
    final ParameterStore store = new ParameterStore(m);
    final Parameter w;
    final Parameter frozen;
    final AdamW opt;
    final Ema ema;

    Rig(float w0) {
      w = store.create("w", new Shape(3), mm -> mm.create(new float[] {w0, 2f, 3f}));
      frozen = store.create("vit_pos_embed.pos_embed", new Shape(1), mm -> mm.create(new float[] {9f}));
      frozen.setTrainable(false);
      opt = new AdamW(store, OptimizerConfig.DEFAULTS);
      ema = new Ema(store, 0.5);
    }

    void train() {
      try (NDManager s = m.newSubManager(); GradientCollector gc = Torch.init().newGradientCollector()) {
        gc.backward(w.value().mul(s.create(new float[] {1f, -1f, 0.5f})).sum());
      }
      opt.step(0.1);
      ema.update();
    }

    CheckpointManager.Snapshot snapshot(long step) {
      return new CheckpointManager.Snapshot(store, ema.stateDict(), opt.exportState(),
          new CheckpointManager.OptimizerSettings(0.1, 0.9, 0.95, 1e-15, 0),
          new SchedulerState(step + 1, 0.1, "constant", 0, 100, 0, 0.1),
          new TrainState(step, step + 1, 4396, 1, 0, 100 * step),
          List.of("{\"rank\": 0, \"next\": " + step + "}"));
    }

    @Override
    public void close() {
      ema.close();
      opt.close();
      store.close();
      m.close();
    }
  }

  private CheckpointConfig config(boolean auto, Path resumeFrom, boolean modelOnly, boolean fromEma, int keep) {
    return new CheckpointConfig(tmp.resolve("ckpt"), 10, auto, resumeFrom, modelOnly, fromEma, false, keep);
  }

  @Test
  void saveWritesTheReferenceLayoutWithAVerifiedManifest() throws IOException {
    try (Rig r = new Rig(1f)) {
      r.train();
      Path dir = new CheckpointManager(config(false, null, false, false, 0)).save(r.snapshot(500));
      assertEquals("0000500", dir.getFileName().toString());
      for (String f : List.of("model.safetensors", "ema.safetensors", "optimizer.safetensors", "optimizer.json",
          "scheduler.json", "train_state.json", "data_status.json", "manifest.json")) {
        assertTrue(Files.isRegularFile(dir.resolve(f)), f);
      }
      assertEquals(Optional.empty(), Manifest.problem(dir));
      assertEquals(7, Manifest.read(dir).files().size());
      try (var list = Files.list(tmp.resolve("ckpt"))) {
        assertEquals(1, list.count(), "no temporary folder is left behind");
      }
    }
  }

  @Test
  void autoResumeSkipsTornAndCorruptFoldersAndTakesTheNewestComplete() throws IOException {
    Path root = tmp.resolve("ckpt");
    try (Rig r = new Rig(1f)) {
      CheckpointManager cm = new CheckpointManager(config(true, null, false, false, 0));
      cm.save(r.snapshot(10));
      cm.save(r.snapshot(20));
      Path corrupt = cm.save(r.snapshot(30));
      // flip one byte of the newest checkpoint's model file: checksum no longer matches
      byte[] bytes = Files.readAllBytes(corrupt.resolve("model.safetensors"));
      bytes[bytes.length - 1] ^= 1;
      Files.write(corrupt.resolve("model.safetensors"), bytes, StandardOpenOption.TRUNCATE_EXISTING);
      // a step folder without a manifest (save died before the rename would look like a .tmp, but a copy
      // interrupted by a user looks like this) and a torn temporary folder
      Files.createDirectories(root.resolve("0000040"));
      Files.writeString(root.resolve("0000040/model.safetensors"), "partial");
      Files.createDirectories(root.resolve(".tmp-0000050-1-2"));
      Files.createDirectories(root.resolve("notes"));

      assertTrue(Manifest.problem(corrupt).get().contains("model.safetensors"));
      assertEquals(Optional.of(root.resolve("0000020")), CheckpointManager.latestComplete(root));
      CheckpointManager.Plan plan = cm.plan().orElseThrow();
      assertEquals(root.resolve("0000020"), plan.dir());
      assertFalse(plan.modelOnly());
    }
  }

  @Test
  void fullResumeRestoresWeightsEmaOptimizerAndState() throws IOException {
    Path saved;
    float[] w;
    float[] e;
    AdamW.State o;
    try (Rig r = new Rig(1f)) {
      r.train();
      r.train();
      saved = new CheckpointManager(config(false, null, false, false, 0)).save(r.snapshot(7));
      w = r.w.value().toFloatArray();
      e = r.ema.get("w").toFloatArray();
      o = r.opt.exportState();
      assertEquals(2L, o.steps().get("w"));
    }
    try (Rig fresh = new Rig(-5f)) {
      CheckpointManager cm = new CheckpointManager(config(false, saved, false, false, 0));
      CheckpointManager.Restored back = cm.restore(cm.plan().orElseThrow(), fresh.store, fresh.ema, fresh.opt);
      assertEquals(8, back.nextStep());
      assertEquals(8, back.scheduler().lastEpoch());
      assertEquals(List.of("{\"rank\":0,\"next\":7}"), back.dataStatus());
      assertArrayEquals(w, fresh.w.value().toFloatArray());
      assertArrayEquals(e, fresh.ema.get("w").toFloatArray());
      assertEquals(2L, fresh.opt.exportState().steps().get("w"));
      // the fixed position table is never loaded (the model recomputes it)
      assertEquals(9f, fresh.frozen.value().getFloat(0));
    }
  }

  @Test
  void modelOnlyFromEmaLoadsTheAverageIntoTheModelAndStartsAtStepZero() throws IOException {
    Path saved;
    float[] e;
    try (Rig r = new Rig(1f)) {
      r.train();
      saved = new CheckpointManager(config(false, null, false, false, 0)).save(r.snapshot(3));
      e = r.ema.get("w").toFloatArray();
    }
    try (Rig fresh = new Rig(-5f)) {
      CheckpointManager cm = new CheckpointManager(config(false, saved, true, true, 0));
      CheckpointManager.Plan plan = cm.plan().orElseThrow();
      assertTrue(plan.modelFromEma());
      CheckpointManager.Restored back = cm.restore(plan, fresh.store, fresh.ema, fresh.opt);
      assertEquals(0, back.nextStep());
      assertArrayEquals(e, fresh.w.value().toFloatArray());
      assertTrue(fresh.opt.exportState().steps().isEmpty());
    }
  }

  @Test
  void aForeignFolderLoadsOnlyAsWeightsAndAMissingFileIsNamed() throws IOException {
    Path foreign = tmp.resolve("released");
    Files.createDirectories(foreign);
    try (Rig fresh = new Rig(-5f)) {
      CheckpointManager cm = new CheckpointManager(config(false, foreign, false, false, 0));
      CheckpointException full = assertThrows(CheckpointException.class,
          () -> cm.restore(cm.plan().orElseThrow(), fresh.store, fresh.ema, fresh.opt));
      assertTrue(full.getMessage().contains("resume_model_only"), full.getMessage());
      CheckpointManager weightsOnly = new CheckpointManager(config(false, foreign, true, true, 0));
      CheckpointException none = assertThrows(CheckpointException.class,
          () -> weightsOnly.restore(weightsOnly.plan().orElseThrow(), fresh.store, fresh.ema, fresh.opt));
      assertTrue(none.getMessage().contains("ema.safetensors"), none.getMessage());
    }
  }

  @Test
  void keepLastRemovesOlderCheckpointsButNeverTheOneJustSaved() throws IOException {
    Path root = tmp.resolve("ckpt");
    try (Rig r = new Rig(1f)) {
      CheckpointManager cm = new CheckpointManager(config(false, null, false, false, 2));
      for (long s : new long[] {10, 20, 30, 40}) {
        cm.save(r.snapshot(s));
      }
      assertEquals(List.of(root.resolve("0000040"), root.resolve("0000030")), CheckpointManager.stepDirs(root));
      // saving an older step (after resuming from it) keeps it and the newest other one
      cm.save(r.snapshot(15));
      assertEquals(List.of(root.resolve("0000040"), root.resolve("0000015")), CheckpointManager.stepDirs(root));
    }
  }
}
