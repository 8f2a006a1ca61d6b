package ai.bakery.runtime.infer;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.plan.PlannedSample;
import ai.bakery.data.sample.SampleItem;
import ai.bakery.model.bagel.Bagel;
import ai.bakery.model.bagel.BagelInputs;
import ai.bakery.model.config.BagelConfig;
import ai.bakery.model.vae.FluxAutoencoder;
import ai.bakery.model.vae.LatentPatchify;
import ai.bakery.runtime.train.BatchToTensors;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.awt.image.BufferedImage;
import java.util.List;
import java.util.Random;
import org.bytedeco.pytorch.NoGradGuard;

/**
 * Text-to-image and image editing by flow matching, as the reference's {@code gen_image}: x starts as Gaussian
 * noise on the generated image's latent tokens and follows the predicted velocity with Euler steps along the
 * shifted schedule from t = 1 to 0 ({@code x -= v (t_i - t_{i+1})}), each prediction guided by the same
 * context without the text (and, for edits, without the input image); the final latent is decoded by the
 * autoencoder.
 *
 * <p>Without a KV cache every step runs the whole context again; the tiny preset's contexts are a few hundred
 * tokens, so that costs little next to keeping a cache.
 */
public final class ImageGenerator {
  private final InferenceModel model;
  private final BatchToTensors toTensors;

  public ImageGenerator(InferenceModel model) {
    this.model = model;
    FluxAutoencoder vae = model.requireVae();
    this.toTensors = new BatchToTensors(vae::encodeMean);
  }

  /** An image for {@code prompt}. */
  public BufferedImage generate(String prompt, SamplingOptions o) {
    Contexts c = contexts(o);
    SampleItem.Image target = Contexts.target(o.size());
    PlannedSample full = c.plan(List.of(Contexts.prompt(prompt), target), o.size());
    PlannedSample noText = c.plan(List.of(target), o.size());
    return sample(c, full, noText, null, o);
  }

  /**
   * {@code image} changed as {@code instruction} says: the input is a clean VAE condition and a ViT input, as
   * the edit data trains it.
   */
  public BufferedImage edit(BufferedImage image, String instruction, SamplingOptions o) {
    Contexts c = contexts(o);
    SampleItem.Image target = Contexts.target(o.size());
    SampleItem.Image input = Contexts.input(image, model.config().visualUnd(), true);
    PlannedSample full = c.plan(List.of(input, Contexts.prompt(instruction), target), o.size());
    PlannedSample noText = c.plan(List.of(input, target), o.size());
    PlannedSample noImage = c.plan(List.of(Contexts.prompt(instruction), target), o.size());
    return sample(c, full, noText, noImage, o);
  }

  private Contexts contexts(SamplingOptions o) {
    var tok = model.tokenizer();
    return new Contexts(model.config(), tok, tok.specialTokens(), o.size());
  }

  private BufferedImage sample(Contexts c, PlannedSample full, PlannedSample noText, PlannedSample noImage,
      SamplingOptions o) {
    Bagel bagel = model.bagel();
    BagelConfig cfg = model.config();
    try (NoGradGuard noGrad = new NoGradGuard(); NDManager run = NDManager.newBaseManager()) {
      Branch cond = branch(c.pack(full), run);
      Branch text = o.cfgText() > 1 ? branch(c.pack(noText), run) : null;
      Branch image = noImage != null && o.cfgImage() > 1 ? branch(c.pack(noImage), run) : null;
      int tokens = cond.inputs.noisedVaeTokens().length;
      int h = cond.inputs.patchifiedVaeLatentShapes()[cond.inputs.patchifiedVaeLatentShapes().length - 2];
      int w = cond.inputs.patchifiedVaeLatentShapes()[cond.inputs.patchifiedVaeLatentShapes().length - 1];
      NDArray x = run.create(noise(o.seed(), tokens * cfg.patchLatentDim()), new Shape(tokens, cfg.patchLatentDim()));
      double[] ts = o.schedule();
      for (int i = 0; i < ts.length - 1; i++) {
        float t = (float) ts[i];
        try (NDManager step = run.newSubManager()) {
          boolean guide = o.guides(t);
          NDArray v = velocity(bagel, cond, x, t, step);
          NDArray vText = guide && text != null ? velocity(bagel, text, x, t, step) : null;
          NDArray vImage = guide && image != null ? velocity(bagel, image, x, t, step) : null;
          NDArray guided = vText == null ? v
              : Guidance.combine(v, vText, vImage, o.cfgText(), vImage == null ? 1.0 : o.cfgImage(), o.cfgRenormMin(),
                  o.cfgRenormType());
          NDArray next = x.sub(guided.mul(ts[i] - ts[i + 1]));
          next.attach(run);
          x = next;
        }
      }
      NDArray latent = LatentPatchify.unpatchify(x, h, w, cfg.latentPatchSize(), cfg.vae().zChannels())
          .expandDims(0);
      NDArray pixels = model.requireVae().decode(latent); // (1, 3, H, W) in [-1, 1]
      return Images.toImage(pixels.get(0));
    }
  }

  /** One context's device inputs and the pack positions of its generated tokens. */
  private record Branch(BagelInputs inputs, NDArray positions) {}

  private Branch branch(PackedBatch b, NDManager run) {
    BagelInputs in = toTensors.convert(b, run);
    return new Branch(in, run.create(java.util.Arrays.stream(b.mseLossIndexes()).asLongStream().toArray()));
  }

  private static NDArray velocity(Bagel bagel, Branch b, NDArray x, float t, NDManager step) {
    NDArray hidden = bagel.inferHidden(b.inputs, step, x, t);
    return bagel.velocityAt(hidden, b.positions, step);
  }

  /** Standard normal draws from a seeded host generator, so a seed gives the same image on any machine. */
  static float[] noise(long seed, int n) {
    Random r = new Random(seed);
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) r.nextGaussian();
    }
    return v;
  }
}
