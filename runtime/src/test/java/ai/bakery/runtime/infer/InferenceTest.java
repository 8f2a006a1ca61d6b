package ai.bakery.runtime.infer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.example.ShapePainter;
import ai.bakery.data.example.ShapeScene;
import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.plan.PlannedSample;
import ai.bakery.data.text.TextTokenizer;
import ai.bakery.model.bagel.Bagel;
import ai.bakery.model.bagel.BagelInputs;
import ai.bakery.model.bagel.BagelOutput;
import ai.bakery.model.bagel.NoiseSource;
import ai.bakery.model.config.BagelConfig;
import ai.bakery.model.config.ConfigException;
import ai.bakery.model.io.Dtype;
import ai.bakery.model.io.SafetensorsWriter;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.bakery.model.vae.FluxAutoencoder;
import ai.bakery.model.vae.LatentPatchify;
import ai.bakery.runtime.train.BatchToTensors;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.bytedeco.pytorch.NoGradGuard;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Inference against the training path: the sampler's schedule and guidance by hand, the inference forward's
 * velocity equal to the training forward's at the same x_t, and generate / edit / chat end to end from a saved
 * checkpoint folder (EMA preferred, seeds reproducible).
 */
class InferenceTest {
  static Path tinyDir;

  @BeforeAll
  static void init() {
    Torch.init();
    tinyDir = tinyPreset();
  }

  static Path tinyPreset() {
    for (Path base = Path.of("").toAbsolutePath(); base != null; base = base.getParent()) {
      Path dir = base.resolve("configs/model/tiny");
      if (Files.isDirectory(dir)) {
        return dir;
      }
    }
    throw new IllegalStateException("configs/model/tiny not found above " + Path.of("").toAbsolutePath());
  }

  @Test
  void scheduleIsTheShiftedLinspaceFromOneToZero() {
    double[] t = SamplingOptions.TINY.withSteps(3).withShift(3.0).schedule();
    // u = 1, 0.5, 0 -> 3u / (1 + 2u) = 1, 0.75, 0
    assertArrayEquals(new double[] {1.0, 0.75, 0.0}, t, 1e-12);
    assertArrayEquals(new double[] {1.0, 0.5, 0.0}, SamplingOptions.TINY.withSteps(3).schedule(), 1e-12);
    SamplingOptions o = SamplingOptions.TINY;
    assertTrue(o.guides(1.0) && o.guides(0.41));
    assertFalse(o.guides(0.4) || o.guides(0.1));
    assertThrows(IllegalArgumentException.class, () -> o.withSteps(1));
  }

  @Test
  void guidanceMatchesTheReferenceFormulaByHand() {
    try (NDManager m = NDManager.newBaseManager()) {
      float[] v = {1, 2, 3, 4};
      float[] vt = {0, 1, 1, 0};
      float[] vi = {1, 1, 1, 1};
      NDArray a = m.create(v).reshape(2, 2);
      NDArray b = m.create(vt).reshape(2, 2);
      NDArray c = m.create(vi).reshape(2, 2);
      // text 2, image 1.5, global renorm: g = vi + 1.5 (vt + 2 (v - vt) - vi), scaled by min(1, |v| / |g|)
      double[] g = new double[4];
      double ng = 0;
      double nv = 0;
      for (int i = 0; i < 4; i++) {
        double text = vt[i] + 2 * (v[i] - vt[i]);
        g[i] = vi[i] + 1.5 * (text - vi[i]);
        ng += g[i] * g[i];
        nv += v[i] * v[i];
      }
      double scale = Math.min(1, Math.sqrt(nv) / (Math.sqrt(ng) + 1e-8));
      float[] got = Guidance.combine(a, b, c, 2.0, 1.5, 0.0, "global").toFloatArray();
      for (int i = 0; i < 4; i++) {
        assertEquals(g[i] * scale, got[i], 1e-5, "global renorm element " + i);
      }
      assertTrue(scale < 1, "the guided velocity was longer and got shrunk");
      // text scale <= 1: no guidance at all, whatever the image scale (as the reference)
      assertArrayEquals(v, Guidance.combine(a, b, c, 1.0, 3.0, 0.0, "global").toFloatArray());
      // channel renorm with renorm_min 1 keeps the unscaled guided value
      float[] unclamped = Guidance.combine(a, b, null, 2.0, 1.0, 1.0, "channel").toFloatArray();
      for (int i = 0; i < 4; i++) {
        assertEquals(vt[i] + 2 * (v[i] - vt[i]), unclamped[i], 1e-5);
      }
      // text_channel: per-row renorm of the text-guided velocity only
      float[] tc = Guidance.combine(a, b, null, 2.0, 1.0, 0.0, "text_channel").toFloatArray();
      for (int row = 0; row < 2; row++) {
        double n1 = 0;
        double n2 = 0;
        for (int j = 0; j < 2; j++) {
          int i = row * 2 + j;
          double text = vt[i] + 2 * (v[i] - vt[i]);
          n1 += v[i] * v[i];
          n2 += text * text;
        }
        double s = Math.min(1, Math.sqrt(n1) / (Math.sqrt(n2) + 1e-8));
        for (int j = 0; j < 2; j++) {
          int i = row * 2 + j;
          assertEquals((vt[i] + 2 * (v[i] - vt[i])) * s, tc[i], 1e-5);
        }
      }
    }
  }

  /**
   * The inference forward at x_t = (1 - t) x0 + t eps predicts the very velocity whose error the training
   * forward scores: same layout, routing, time embedding and llm2vae.
   */
  @Test
  void inferenceVelocityEqualsTheTrainingForwardAtTheSameNoisyLatent() throws Exception {
    BagelConfig cfg = BagelConfig.readModelDir(tinyDir);
    try (TextTokenizer tok = TextTokenizer.fromModelDir(tinyDir);
        NDManager base = NDManager.newBaseManager();
        ParameterStore store = new ParameterStore(base);
        ParameterStore vaeStore = new ParameterStore(base);
        NDManager step = NDManager.newBaseManager();
        NoGradGuard noGrad = new NoGradGuard()) {
      Bagel bagel = new Bagel(cfg, store, 7);
      perturbZeroInit(store, base);
      FluxAutoencoder vae = new FluxAutoencoder(cfg.vae(), vaeStore, "", Init.seeded(8), Precision.FP32);
      Contexts c = new Contexts(cfg, tok, tok.specialTokens(), 64);
      BufferedImage picture = ShapePainter.paint(new ShapeScene(ShapeScene.Shape.CIRCLE, ShapeScene.Palette.RED,
          ShapeScene.Palette.BLUE, 0.6), 64);
      PlannedSample s = c.plan(List.of(Contexts.prompt("a red circle on a blue background"),
          new ai.bakery.data.sample.SampleItem.Image(new ai.bakery.data.image.DecodedImageSource(picture, "p"), false,
              false, true)), 64);
      PackedBatch pack = c.pack(s);
      BagelInputs in = new BatchToTensors(vae::encodeMean).convert(pack, step);
      BagelOutput out = bagel.forward(in, step, NoiseSource.fixed(11));
      float[] trainingError = out.mse().toFloatArray();

      int h = in.patchifiedVaeLatentShapes()[0];
      int w = in.patchifiedVaeLatentShapes()[1];
      NDArray x0 = LatentPatchify.patchify(in.paddedLatent().get(0), cfg.latentPatchSize(), h, w);
      NDArray eps = NoiseSource.fixed(11).sample(step, x0.getShape());
      double logit = pack.packedTimesteps()[0];
      double u = 1 / (1 + Math.exp(-logit));
      double sh = cfg.timestepShift();
      float t = (float) (sh * u / (1 + (sh - 1) * u));
      NDArray xt = x0.mul(1 - t).add(eps.mul(t));
      NDArray positions = step.create(java.util.Arrays.stream(pack.mseLossIndexes()).asLongStream().toArray());
      NDArray v = bagel.velocityAt(bagel.inferHidden(in, step, xt, t), positions, step);
      float[] inferenceError = v.sub(eps.sub(x0)).square().toFloatArray();
      assertEquals(trainingError.length, inferenceError.length);
      double maxDiff = 0;
      double maxAbs = 0;
      for (int i = 0; i < trainingError.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(trainingError[i] - inferenceError[i]));
        maxAbs = Math.max(maxAbs, Math.abs(trainingError[i]));
      }
      assertTrue(maxAbs > 1e-3, "the error is not trivially zero");
      assertTrue(maxDiff <= 1e-4 * Math.max(1, maxAbs), "training vs inference squared error differ by " + maxDiff);
    }
  }

  @Test
  void generateEditAndChatFromACheckpointFolderPreferTheEma(@TempDir Path tmp) throws Exception {
    BagelConfig cfg = BagelConfig.readModelDir(tinyDir);
    Path ckpt = tmp.resolve("0000009");
    Files.createDirectories(ckpt);
    float probeEma;
    try (NDManager base = NDManager.newBaseManager();
        ParameterStore raw = new ParameterStore(base);
        ParameterStore ema = new ParameterStore(base);
        ParameterStore vaeStore = new ParameterStore(base)) {
      new Bagel(cfg, raw, 1);
      new Bagel(cfg, ema, 2);
      perturbZeroInit(ema, base);
      new FluxAutoencoder(cfg.vae(), vaeStore, "", Init.seeded(3), Precision.FP32);
      new SafetensorsWriter().addAll(raw, Dtype.F32).write(ckpt.resolve("model.safetensors"));
      new SafetensorsWriter().addAll(ema, Dtype.F32).write(ckpt.resolve("ema.safetensors"));
      new SafetensorsWriter().addAll(vaeStore, Dtype.F32).write(tmp.resolve("ae.safetensors"));
      probeEma = ema.get("vae2llm.weight").value().toFloatArray()[5];
    }
    assertThrows(ConfigException.class, () -> InferenceModel.load(ckpt, tinyDir, null, true),
        "no autoencoder anywhere: a clear error, not a random one");
    try (InferenceModel m = InferenceModel.load(ckpt, tinyDir, tmp.resolve("ae.safetensors"), true)) {
      assertTrue(m.weights().startsWith("ema"), m.weights());
      assertEquals(probeEma, m.bagel().store().get("vae2llm.weight").value().toFloatArray()[5]);
      ImageGenerator gen = new ImageGenerator(m);
      SamplingOptions o = SamplingOptions.TINY.withSteps(4);
      BufferedImage a = gen.generate("a red circle on a blue background", o);
      BufferedImage b = gen.generate("a red circle on a blue background", o);
      BufferedImage other = gen.generate("a red circle on a blue background", o.withSeed(5));
      assertEquals(64, a.getWidth());
      assertEquals(64, a.getHeight());
      assertArrayEquals(pixels(a), pixels(b), "the same seed gives the same image");
      assertFalse(java.util.Arrays.equals(pixels(a), pixels(other)), "another seed, another image");
      BufferedImage edited = gen.edit(a, "change the colour of the circle to green", o);
      assertEquals(64, edited.getWidth());
      String answer = new Chat(m).answer(a, "What colour is the shape?", 64, 6);
      assertNotNull(answer);
      assertTrue(m.tokenizer().encode(answer).length <= 8, "at most 6 tokens (re-encoded): '" + answer + "'");
    }
  }

  /** llm2vae starts at zero; give it values so velocities (and their errors) depend on the whole network. */
  static void perturbZeroInit(ParameterStore store, NDManager base) {
    Random r = new Random(3);
    for (String name : List.of("llm2vae.weight", "llm2vae.bias")) {
      NDArray p = store.get(name).value();
      float[] v = new float[(int) p.size()];
      for (int i = 0; i < v.length; i++) {
        v[i] = (float) (0.05 * r.nextGaussian());
      }
      store.get(name).copyFrom(base.create(v, p.getShape()));
    }
  }

  private static int[] pixels(BufferedImage img) {
    return img.getRGB(0, 0, img.getWidth(), img.getHeight(), null, 0, img.getWidth());
  }
}
