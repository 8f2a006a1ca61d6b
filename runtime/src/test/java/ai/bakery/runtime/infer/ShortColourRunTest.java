package ai.bakery.runtime.infer;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.example.ExampleDataset;
import ai.bakery.data.example.ShapePainter;
import ai.bakery.data.example.ShapeScene;
import ai.bakery.model.bagel.Bagel;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import ai.bakery.runtime.train.TrainJob;
import ai.bakery.runtime.train.TrainResult;
import ai.bakery.runtime.vae.VaeTrainConfig;
import ai.bakery.runtime.vae.VaeTrainer;
import ai.djl.ndarray.NDManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Learning colour end to end, small enough for every build: a tiny autoencoder and then the tiny BAGEL are trained
 * on 16-pixel shapes pictures (16 latent tokens each, text-to-image only), and the trained model's pictures for
 * the probe prompts must carry the prompted colours, measured in pixels: closer to their own prompt's colours than
 * the untrained model's, and closer to their own prompt's than to the other prompts' (a model that ignores the
 * prompt draws the same colours for every prompt and fails that).
 *
 * <p>Not yet part of every build: it has not been shown to pass reliably within a few minutes (see README, "Does
 * it learn the colours?"), so it runs only with {@code -Dbakery.colour.short=true}; {@code -Dbakery.colour.steps}
 * and {@code -Dbakery.colour.vae_steps} set the two runs' lengths.
 */
class ShortColourRunTest {
  static final int SIZE = 16;

  @TempDir Path dir;

  @Test
  void aShortTextToImageRunDrawsThePromptedColours() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(Boolean.getBoolean("bakery.colour.short"),
        "a training run of minutes: set -Dbakery.colour.short=true");
    Torch.init();
    Path tiny = InferenceTest.tinyPreset();
    Path shapes = dir.resolve("shapes");
    ExampleDataset.write(shapes, new ExampleDataset.Options(11, SIZE, 4, 1, 2, 16, 96));
    Files.writeString(shapes.resolve("t2i.yaml"), String.join("\n",
        "dataset_info: dataset_info.yaml",
        "t2i_pretrain:",
        "  dataset_names:",
        "  - t2i",
        "  image_transform_args:",
        "    image_stride: 16",
        "    max_image_size: " + SIZE,
        "    min_image_size: " + SIZE,
        "  is_mandatory: true",
        "  num_used_data:",
        "  - 4",
        "  weight: 1",
        ""));

    Path vaeYaml = dir.resolve("vae.yaml");
    Files.writeString(vaeYaml, String.join("\n",
        "images: shapes/vlm/images",
        "vae_config: " + tiny.resolve("config.json"),
        "output_dir: vae",
        "image_size: " + SIZE,
        "batch_size: 8",
        "steps: " + Integer.getInteger("bakery.colour.vae_steps", 200),
        "lr: 3.0e-3",
        "warmup_steps: 5",
        "kl_weight: 1.0e-6",
        "reconstruction: l1",
        "seed: 0",
        "log_every: 20",
        ""));
    VaeTrainer.Result ae = VaeTrainer.run(VaeTrainConfig.load(vaeYaml));

    int steps = Integer.getInteger("bakery.colour.steps", 150);
    JobConfig job = JobConfigLoader.parse(String.join("\n",
        "model:",
        "  preset: tiny",
        "  vae_path: " + ae.weights(),
        "  timestep_shift: 3.0",
        "data:",
        "  dataset_config_file: " + shapes.resolve("t2i.yaml"),
        "  packing:",
        "    expected_num_tokens: 256",
        "    max_num_tokens: 384",
        "    max_num_tokens_per_sample: 128",
        "    prefer_buffer_before: 128",
        "    max_buffer_size: 8",
        "training:",
        "  optimizer:",
        "    lr: 3.0e-3",
        "  schedule:",
        "    lr_scheduler: cosine",
        "    warmup_steps: 10",
        "    min_lr: 1.0e-4",
        "    total_steps: " + steps,
        "  ema:",
        "    ema: 0.95",
        "  checkpoint:",
        "    save_every: " + steps,
        "output:",
        "  results_dir: " + dir.resolve("run"),
        "runtime:",
        "  seed: 4396",
        "  num_workers: 1",
        ""), List.of()).config();
    TrainResult r = TrainJob.run(job);
    assertNotNull(r.lastCheckpoint(), "the run saved no checkpoint");

    List<ShapeScene> scenes = ColourProbe.scenes(8);
    SamplingOptions o = SamplingOptions.TINY.withSteps(12).withSize(SIZE);
    ColourProbe.Drawing trained;
    ColourProbe.Drawing untrained;
    double autoencoder = 0;
    try (InferenceModel m = InferenceModel.load(r.lastCheckpoint(), tiny, ae.weights(), true)) {
      trained = ColourProbe.draw(m, scenes, o);
      try (NDManager base = NDManager.newBaseManager(); ParameterStore init = new ParameterStore(base)) {
        new Bagel(m.config(), init, 4396);
        m.copyWeights(TrainingSampler.values(init));
      }
      untrained = ColourProbe.draw(m, scenes, o);
      for (ShapeScene s : scenes) {
        autoencoder += ColourProbe.sceneDistance(roundTrip(m, ShapePainter.paint(s, SIZE)), s);
      }
    }
    String report = String.format(java.util.Locale.ROOT,
        "%d steps, autoencoder round trip %.1f%ntrained:   %s%nuntrained: %s", steps, autoencoder / scenes.size(),
        trained, untrained);
    System.out.println(report);
    assertTrue(trained.meanDistance() < untrained.meanDistance() - 30, report);
    assertTrue(trained.promptMatch() > 30, "pictures must follow their prompts' colours\n" + report);
  }

  /** A picture through the autoencoder and back: the best colours generation can reach. */
  static java.awt.image.BufferedImage roundTrip(InferenceModel m, java.awt.image.BufferedImage img) {
    int h = img.getHeight();
    int w = img.getWidth();
    float[] chw = new float[3 * h * w];
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int p = img.getRGB(x, y);
        for (int c = 0; c < 3; c++) {
          chw[c * h * w + y * w + x] = ((p >> (16 - 8 * c)) & 0xff) / 127.5f - 1f;
        }
      }
    }
    try (org.bytedeco.pytorch.NoGradGuard g = new org.bytedeco.pytorch.NoGradGuard();
        NDManager run = NDManager.newBaseManager()) {
      var vae = m.requireVae();
      var pixels = vae.decode(vae.encodeMean(run.create(chw, new ai.djl.ndarray.types.Shape(1, 3, h, w))));
      return Images.toImage(pixels.get(0));
    }
  }
}
