package ai.bakery.runtime.vae;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.example.ExampleDataset;
import ai.bakery.model.config.ConfigException;
import ai.bakery.model.io.LoadReport;
import ai.bakery.model.io.PretrainedWeights;
import ai.bakery.model.io.StateDictLoader;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.bakery.model.vae.FluxAutoencoder;
import ai.bakery.runtime.dashboard.RunListener;
import ai.bakery.runtime.dashboard.RunMonitor;
import ai.bakery.runtime.dashboard.StepRecord;
import ai.bakery.runtime.train.StopRequest;
import ai.bakery.runtime.train.TrainingStopped;
import ai.djl.ndarray.NDManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VaeTrainerTest {
  static final Path TINY = Path.of("..", "configs", "model", "tiny", "config.json");

  private static double mean(List<Double> xs, int from, int to) {
    return xs.subList(from, to).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
  }

  @Test
  void aFewDozenStepsOnTheShapesImagesClearlyReduceReconstructionAndTheFileLoadsBackStrictly(@TempDir Path dir)
      throws Exception {
    ExampleDataset.write(dir.resolve("example"), new ExampleDataset.Options(7, 64, 1, 1, 1, 2, 24));
    Path images = dir.resolve("example/vlm/images");
    Files.writeString(images.resolve("broken.png"), "not a png");  // counted and skipped, never fatal
    Path yaml = dir.resolve("vae.yaml");
    Files.writeString(yaml, """
        images: example/vlm/images
        vae_config: %s
        output_dir: out
        image_size: 16
        batch_size: 4
        steps: 30
        lr: 2.0e-3
        warmup_steps: 5
        kl_weight: 1.0e-6
        reconstruction: l1
        seed: 3
        log_every: 10
        """.formatted(TINY.toAbsolutePath()));
    VaeTrainConfig config = VaeTrainConfig.load(yaml);
    assertEquals(dir.resolve("out"), config.outputDir());
    assertEquals(32, config.vae().ch());

    RunMonitor monitor = new RunMonitor("vae");
    VaeTrainer.Result r = VaeTrainer.run(config, monitor);

    assertEquals(30, r.reconstruction().size());
    double first = mean(r.reconstruction(), 0, 10);
    double last = mean(r.reconstruction(), 20, 30);
    // Training batches are small and sampled, so their loss is noisy: it must fall, and the fixed batch must fall clearly.
    assertTrue(last < first, "training reconstruction " + first + " -> " + last);
    assertTrue(r.evalAfter() < 0.75 * r.evalBefore(), "fixed-batch reconstruction " + r.evalBefore() + " -> "
        + r.evalAfter());
    assertTrue(r.kl().stream().allMatch(Double::isFinite));
    assertEquals(1L, r.skippedImages().get("unsupported_format"), String.valueOf(r.skippedImages()));
    assertEquals(29, monitor.snapshot().step());
    assertEquals("finished", monitor.snapshot().state());
    assertTrue(Files.isRegularFile(dir.resolve("out/metrics.jsonl")));
    assertEquals(config.vae(), VaeTrainConfig.readVae(dir.resolve("out").resolve(VaeTrainer.CONFIG)));

    // The saved file carries exactly FLUX's names for this shape and reproduces the trained reconstruction.
    Torch.init();
    try (NDManager root = NDManager.newBaseManager(); ParameterStore store = new ParameterStore(root)) {
      FluxAutoencoder ae = new FluxAutoencoder(config.vae(), store, "", Init.forLoading(), Precision.FP32);
      LoadReport report = PretrainedWeights.loadFluxAe(r.weights(), store, "", StateDictLoader.strict());
      assertTrue(report.clean(), report.toString());
      assertEquals(store.all().size(), report.loaded().size());
      assertTrue(store.all().keySet().stream().allMatch(n -> n.startsWith("encoder.") || n.startsWith("decoder.")));
      ImageFolder folder = new ImageFolder(images, 16, 0);
      int n = Math.min(8, folder.fileCount());
      double reloaded = VaeTrainer.evaluate(ae, root, folder.fixed(n), n, 16, VaeTrainConfig.Reconstruction.L1);
      assertEquals(r.evalAfter(), reloaded, 1e-5);
    }
  }

  @Test
  void badConfigsNameTheFieldAndTheFile(@TempDir Path dir) throws Exception {
    Path yaml = dir.resolve("bad.yaml");
    String base = "images: imgs\nvae_config: " + TINY.toAbsolutePath() + "\noutput_dir: out\n";
    Files.writeString(yaml, base + "batch_sise: 4\n");
    ConfigException e = assertThrows(ConfigException.class, () -> VaeTrainConfig.load(yaml));
    assertTrue(e.getMessage().contains("bad.yaml") && e.getMessage().contains("batch_sise"), e.getMessage());

    Files.writeString(yaml, base + "image_size: 33\n");
    e = assertThrows(ConfigException.class, () -> VaeTrainConfig.load(yaml));
    assertTrue(e.getMessage().contains("image_size 33"), e.getMessage());

    Files.writeString(yaml, base + "reconstruction: lpips\n");
    e = assertThrows(ConfigException.class, () -> VaeTrainConfig.load(yaml));
    assertTrue(e.getMessage().contains("reconstruction"), e.getMessage());

    Files.writeString(yaml, "vae_config: " + TINY.toAbsolutePath() + "\noutput_dir: out\n");
    e = assertThrows(ConfigException.class, () -> VaeTrainConfig.load(yaml));
    assertTrue(e.getMessage().contains("images"), e.getMessage());

    Files.writeString(yaml, "images: x\nvae_config: nowhere.json\noutput_dir: out\n");
    e = assertThrows(ConfigException.class, () -> VaeTrainConfig.load(yaml));
    assertTrue(e.getMessage().contains("nowhere.json"), e.getMessage());

    Files.writeString(yaml, base);
    VaeTrainConfig c = VaeTrainConfig.load(yaml);
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> VaeTrainer.run(c));
    assertTrue(missing.getMessage().contains("imgs"), missing.getMessage());
  }

  @Test
  void aStopEndsTrainingAtTheNextStepAndSavesNothing(@TempDir Path dir) throws Exception {
    ExampleDataset.write(dir.resolve("example"), new ExampleDataset.Options(7, 64, 1, 1, 1, 2, 24));
    Path yaml = dir.resolve("vae.yaml");
    Files.writeString(yaml, """
        images: example/vlm/images
        vae_config: %s
        output_dir: out
        image_size: 16
        batch_size: 2
        steps: 30
        seed: 3
        """.formatted(TINY.toAbsolutePath()));
    StopRequest stop = new StopRequest();
    List<Long> steps = new ArrayList<>();
    List<String> states = new ArrayList<>();
    RunListener listener = new RunListener() {
      @Override
      public void onStep(StepRecord r) {
        steps.add(r.step());
        if (r.step() == 3) {
          stop.request("SIGTERM"); // arrives while step 3 runs
        }
      }

      @Override
      public void onJobState(String state) {
        states.add(state);
      }
    };
    TrainingStopped e = assertThrows(TrainingStopped.class,
        () -> VaeTrainer.run(VaeTrainConfig.load(yaml), listener, stop));
    assertEquals(List.of(0L, 1L, 2L, 3L), steps);
    assertEquals(List.of("running", "stopped"), states);
    assertTrue(e.getMessage().contains("(SIGTERM) before step 4 of 30"), e.getMessage());
    // a part-trained autoencoder under the finished one's name would be taken for it by the next quickstart
    assertFalse(Files.exists(dir.resolve("out").resolve(VaeTrainer.WEIGHTS)));
  }
}
