package ai.bakery.runtime.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.checkpoint.CheckpointConfig;
import ai.bakery.runtime.checkpoint.CheckpointManager;
import ai.bakery.runtime.config.TrainingSection;
import ai.bakery.runtime.metrics.MetricsLog;
import ai.bakery.runtime.optim.OptimizerConfig;
import ai.bakery.runtime.optim.ScheduleConfig;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerTest {
  @TempDir
  Path tmp;

  @BeforeAll
  static void start() {
    Torch.init();
  }

  private TrainingSection training(long maxSteps, boolean autoResume, long saveEvery, int logEvery) {
    OptimizerConfig opt = new OptimizerConfig(3e-2, 0.9, 0.95, 1e-15, 0.01, 1.0);
    ScheduleConfig sched = new ScheduleConfig("cosine", 3, 1e-4, 40);
    CheckpointConfig ck = new CheckpointConfig(tmp.resolve("ckpt"), saveEvery, autoResume, null, false, false, false, 0);
    TrainLoopConfig loop = new TrainLoopConfig(maxSteps, 2, logEvery, 1.0, 1.0, false, 11, true, true, false, false,
        true, false, tmp.resolve("run"), 0);
    return new TrainingSection(opt, sched, new EmaConfig(0.9), ck, loop);
  }

  private static Map<String, float[]> weights(StandIn.Model model) {
    Map<String, float[]> out = new LinkedHashMap<>();
    for (Parameter p : model.store().all().values()) {
      out.put(p.name(), p.value().toFloatArray());
    }
    return out;
  }

  private static Map<String, float[]> ema(Trainer t, StandIn.Model model) {
    Map<String, float[]> out = new LinkedHashMap<>();
    for (String name : model.store().all().keySet()) {
      out.put(name, t.ema().get(name).toFloatArray());
    }
    return out;
  }

  private TrainResult train(NDManager root, long initSeed, TrainingSection t, Map<String, float[]> weightsOut,
      Map<String, float[]> emaOut) {
    try (StandIn.Model model = new StandIn.Model(root, initSeed);
        Trainer trainer = Trainer.builder().setTraining(t).setModel(model).setData(StandIn.Source.factory(21))
            .optPeakTflops(1.0).optProgressBar(false).build()) {
      TrainResult r = trainer.run();
      weightsOut.putAll(weights(model));
      emaOut.putAll(ema(trainer, model));
      return r;
    }
  }

  /**
   * Training 12 steps in one go and training 6, saving, and resuming in fresh objects for 6 more give bit-identical
   * fp32 weights, EMA and losses: the checkpoint carries weights, EMA, AdamW moments, schedule position, data
   * position and the RNG counter. (Stand-in model; the same path drives BAGEL.)
   */
  @Test
  void resumedRunIsBitIdenticalToAnUninterruptedOne() {
    try (NDManager root = NDManager.newBaseManager()) {
      Map<String, float[]> wFull = new LinkedHashMap<>();
      Map<String, float[]> eFull = new LinkedHashMap<>();
      TrainResult full = train(root, 1, training(12, false, 100, 4), wFull, eFull);
      assertEquals(12, full.steps().size());

      Path ckpt = tmp.resolve("ckpt");
      CheckpointManager.deleteTreeForTests(ckpt);
      Map<String, float[]> w1 = new LinkedHashMap<>();
      Map<String, float[]> e1 = new LinkedHashMap<>();
      TrainResult first = train(root, 1, training(6, false, 100, 4), w1, e1);
      assertEquals(ckpt.resolve("0000005"), first.lastCheckpoint());
      Map<String, float[]> w2 = new LinkedHashMap<>();
      Map<String, float[]> e2 = new LinkedHashMap<>();
      // a different initialisation: everything must come from the checkpoint
      TrainResult second = train(root, 99, training(12, true, 100, 4), w2, e2);
      assertEquals(6, second.steps().get(0).step());
      assertEquals(6, second.steps().size());

      for (String name : wFull.keySet()) {
        assertArrayEquals(wFull.get(name), w2.get(name), name);
        assertArrayEquals(eFull.get(name), e2.get(name), "ema " + name);
      }
      for (int i = 0; i < 6; i++) {
        assertEquals(full.steps().get(6 + i).ce(), second.steps().get(i).ce(), "ce at step " + (6 + i));
        assertEquals(full.steps().get(6 + i).mse(), second.steps().get(i).mse(), "mse at step " + (6 + i));
        assertEquals(full.steps().get(6 + i).lr(), second.steps().get(i).lr());
      }
      assertFalse(java.util.Arrays.equals(w1.get("llm2vae.weight"), w2.get("llm2vae.weight")));
    }
  }

  @Test
  void logsMetricsEveryLogEverySavesEverySaveEveryAndLearns() throws Exception {
    try (NDManager root = NDManager.newBaseManager()) {
      TrainResult r = train(root, 2, training(30, false, 10, 5), new LinkedHashMap<>(), new LinkedHashMap<>());
      assertEquals(30, r.steps().size());
      assertEquals(0, r.skippedSteps());
      assertTrue(r.lastCe(5) < r.firstCe(5) - 0.2, "ce " + r.firstCe(5) + " -> " + r.lastCe(5));
      assertTrue(r.lastMse(5) < r.firstMse(5), "mse " + r.firstMse(5) + " -> " + r.lastMse(5));
      assertEquals(0.0, r.steps().get(0).lr(), "warm-up starts at 0 as the reference's LambdaLR");

      List<String> lines = Files.readAllLines(tmp.resolve("run").resolve(MetricsLog.FILE));
      assertEquals(6, lines.size(), "steps 0, 5, ..., 25");
      JsonNode last = new ObjectMapper().readTree(lines.get(5));
      assertEquals(25, last.get("step").asLong());
      for (String field : List.of("ce", "mse", "lr", "grad_norm", "tokens", "tokens_per_s", "mfu", "rss_bytes",
          "skipped_steps", "data_skips")) {
        assertTrue(last.has(field), field);
      }
      assertEquals(32, last.get("tokens").asLong(), "two 16-token packs per step");
      assertTrue(last.get("mfu").asDouble() > 0);
      // saves at 10 and 20 (as the reference: step > 0 and step % save_every == 0) and the final step 29
      assertEquals(List.of(tmp.resolve("ckpt/0000029"), tmp.resolve("ckpt/0000020"), tmp.resolve("ckpt/0000010")),
          CheckpointManager.stepDirs(tmp.resolve("ckpt")));
    }
  }

  /**
   * A stop requested during a step (as bakery train's SIGTERM handler does) ends the run after that step with a
   * checkpoint of it, and the hooks get a {@link TrainingStopped}; when save_every just saved that step, no second
   * save; asked before the run, nothing is trained or saved.
   */
  @Test
  void aStopRequestEndsTheRunAtTheNextStepBoundaryWithItsCheckpoint() {
    Path ckpt = tmp.resolve("ckpt");
    try (NDManager root = NDManager.newBaseManager()) {
      for (long stopAt : new long[] {7, 10}) {
        CheckpointManager.deleteTreeForTests(ckpt);
        StopRequest stop = new StopRequest();
        List<Long> saved = new java.util.ArrayList<>();
        Throwable[] finished = new Throwable[1];
        TrainHook hook = new TrainHook() {
          @Override
          public void onStep(StepResult r, double seconds, double mfu, long dataSkips, Ema ema) {
            if (r.step() == stopAt) {
              stop.request("test");
            }
          }

          @Override
          public void onCheckpoint(long step, Path dir) {
            saved.add(step);
          }

          @Override
          public void onFinish(long lastStep, Ema ema, Throwable error) {
            finished[0] = error;
          }
        };
        try (StandIn.Model model = new StandIn.Model(root, 1);
            Trainer trainer = Trainer.builder().setTraining(training(30, false, 10, 5)).setModel(model)
                .setData(StandIn.Source.factory(21)).optProgressBar(false).optHook(hook).optStop(stop).build()) {
          TrainResult r = trainer.run();
          assertTrue(r.stopped());
          assertEquals(stopAt + 1, r.steps().size());
          assertEquals(ckpt.resolve(CheckpointManager.stepName(stopAt)), r.lastCheckpoint());
          assertEquals(List.of(stopAt), saved, "one save of the last finished step");
          assertEquals(List.of(ckpt.resolve(CheckpointManager.stepName(stopAt))), CheckpointManager.stepDirs(ckpt));
          assertTrue(finished[0] instanceof TrainingStopped, String.valueOf(finished[0]));
        }
      }
      CheckpointManager.deleteTreeForTests(ckpt);
      StopRequest early = new StopRequest();
      early.request("test");
      try (StandIn.Model model = new StandIn.Model(root, 1);
          Trainer trainer = Trainer.builder().setTraining(training(30, false, 10, 5)).setModel(model)
              .setData(StandIn.Source.factory(21)).optProgressBar(false).optStop(early).build()) {
        TrainResult r = trainer.run();
        assertTrue(r.stopped());
        assertEquals(List.of(), r.steps());
        assertEquals(List.of(), CheckpointManager.stepDirs(ckpt));
      }
    }
  }

  @Test
  void logLineMatchesTheReferenceFormat() {
    assertEquals("(step=0000001) Train Loss mse: 0.4121, Train Loss ce: 0.8152, Train Steps/Sec: 0.44, "
        + "Tokens/Sec: 1.23k, MFU: 12.5%, ", Trainer.logLine(1, 0.41212, 0.81519, 0.444, 1234, 0.125));
  }
}
