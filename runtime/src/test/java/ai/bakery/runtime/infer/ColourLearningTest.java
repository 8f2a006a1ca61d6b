package ai.bakery.runtime.infer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.example.ShapePainter;
import ai.bakery.data.example.ShapeScene;
import ai.bakery.data.example.ShapeScene.Palette;
import ai.bakery.model.bagel.Bagel;
import ai.bakery.model.config.BagelConfig;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDManager;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Did training teach the model the example's colours? The probe is checked on painted pictures here; the
 * comparison of a trained checkpoint with the untrained model needs the quickstart's checkpoint (a few minutes of
 * training, see README, "Generation and chat"), so it runs when {@code -Dbakery.colour.checkpoint=<step folder>}
 * (and {@code -Dbakery.colour.vae=<ae.safetensors>}) name one; {@link ShortColourRunTest} trains a smaller model
 * inside the build instead:
 *
 * <pre>
 * ./bakery quickstart
 * mvn -pl runtime -am test -Dtest=ColourLearningTest -Dsurefire.failIfNoSpecifiedTests=false \
 *     -Dbakery.colour.checkpoint=$PWD/results/quickstart/checkpoints/0000199 \
 *     -Dbakery.colour.vae=$PWD/results/quickstart/vae/ae.safetensors
 * </pre>
 *
 * <p>Pictures are generated at {@code -Dbakery.colour.size} pixels (default 32, the quickstart's) and asked about
 * at {@code -Dbakery.colour.chat_size} (default 64, its VLM pictures').
 */
class ColourLearningTest {

  @Test
  void theProbeReadsPaintedScenesAndAnswers() {
    for (int size : new int[] {16, 32, 64}) {
      for (ShapeScene s : ColourProbe.scenes(8)) {
        BufferedImage img = ShapePainter.paint(s, size);
        assertTrue(ColourProbe.sceneDistance(img, s) < 25,
            s + " at " + size + " pixels: painted colours measured " + ColourProbe.sceneDistance(img, s));
        ShapeScene swapped = new ShapeScene(s.shape(), s.background(), s.colour(), s.scale());
        assertTrue(ColourProbe.sceneDistance(img, swapped) > 100, "swapped colours must be far: " + s);
      }
    }
    assertEquals(8, ColourProbe.scenes(8).stream().map(ShapeScene::colour).distinct().count());
    assertEquals(Palette.RED, ColourProbe.firstColour("The shape is red."));
    assertEquals(Palette.BLUE, ColourProbe.firstColour("blue, not red"));
    assertNull(ColourProbe.firstColour("It is a circle."));
    assertEquals("a red circle on a blue background", ColourProbe.prompt(
        new ShapeScene(ShapeScene.Shape.CIRCLE, Palette.RED, Palette.BLUE, 0.6)));
  }

  @Test
  void aTrainedCheckpointDrawsAndNamesColoursBetterThanTheUntrainedModel() throws Exception {
    String ckpt = System.getProperty("bakery.colour.checkpoint");
    String vae = System.getProperty("bakery.colour.vae");
    Assumptions.assumeTrue(ckpt != null && vae != null,
        "set -Dbakery.colour.checkpoint and -Dbakery.colour.vae to a trained quickstart checkpoint (see README)");
    Torch.init();
    Path model = InferenceTest.tinyPreset();
    List<ShapeScene> scenes = ColourProbe.scenes(8);
    // generate at the size the run trained on (the quickstart's 32 pixels), ask about pictures at the VLM size
    int size = Integer.getInteger("bakery.colour.size", 32);
    int chatSize = Integer.getInteger("bakery.colour.chat_size", 64);
    SamplingOptions o = SamplingOptions.TINY.withSteps(12).withSize(size);
    ColourProbe.Score trained;
    ColourProbe.Score untrained;
    try (InferenceModel m = InferenceModel.load(Path.of(ckpt), model, Path.of(vae), true)) {
      trained = ColourProbe.score(m, scenes, o, chatSize);
      // the same architecture and autoencoder at the trainer's seeded initial weights
      BagelConfig cfg = m.config();
      try (NDManager base = NDManager.newBaseManager(); ParameterStore init = new ParameterStore(base)) {
        new Bagel(cfg, init, 4396);
        m.copyWeights(TrainingSampler.values(init));
      }
      untrained = ColourProbe.score(m, scenes, o, chatSize);
    }
    String report = "trained: " + trained + " " + trained.answers() + "\nuntrained: " + untrained + " "
        + untrained.answers();
    System.out.println(report);
    Files.writeString(Path.of(System.getProperty("java.io.tmpdir"), "bakery-colour-report.txt"), report);
    assertTrue(trained.meanDistance() < untrained.meanDistance(), report);
    // and the colours follow the prompt: closer to the own prompt's colours than to the other prompts', by more
    // than the untrained model's pictures are (which ignore the prompt)
    assertTrue(trained.drawing().promptMatch() > untrained.drawing().promptMatch(), report);
    assertTrue(trained.chatAccuracy() > 1.0 / Palette.values().length, "chance is 1 in 8\n" + report);
  }
}
