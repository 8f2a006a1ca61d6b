package ai.bakery.runtime.infer;

import ai.bakery.data.DataConfig;
import ai.bakery.data.image.DecodedImageSource;
import ai.bakery.data.image.ImageTransform;
import ai.bakery.data.pack.PackBuilder;
import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.plan.PlannedSample;
import ai.bakery.data.plan.PlannedSplit;
import ai.bakery.data.plan.SequencePlanner;
import ai.bakery.data.plan.SpecialTokens;
import ai.bakery.data.plan.TextEncoder;
import ai.bakery.data.sample.Sample;
import ai.bakery.data.sample.SampleItem;
import ai.bakery.data.source.SkipCounter;
import ai.bakery.model.config.BagelConfig;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;

/**
 * Lays out inference contexts with the training data path's own planner and packer (CFG dropout off), so a
 * prompt, an input image and the image being generated occupy exactly the tokens, RoPE ids and attention modes
 * they had in training: text {@code [bos] ids [eos]} (causal), an input image as a clean VAE condition (full)
 * then ViT patches (full), the generated image as a {@code noise} split that shares the RoPE id after the
 * context, as the reference's {@code prepare_vae_latent} places it.
 */
final class Contexts {
  /** ViT inputs: the example's VLM transform (stride = patch, long side capped by the model's table). */
  private final ImageTransform vitTransform;
  private final SpecialTokens tokens;
  private final TextEncoder encoder;
  private final DataConfig data;
  private final BagelConfig cfg;

  Contexts(BagelConfig cfg, TextEncoder encoder, SpecialTokens tokens, int imageSize) {
    this.cfg = cfg;
    this.encoder = encoder;
    this.tokens = tokens;
    this.data = DataConfig.of(null, null, null, null, null, null, null, null, null, 0.0, 0.0, 0.0,
        cfg.interpolatePos(), null, null, null, null, null, null, null, null)
        .withImageLimits(cfg.latentDownsample(), cfg.maxLatentSize(), patch(cfg), cfg.vitMaxNumPatchPerSide());
    int p = patch(cfg);
    int vitSide = Math.max(p, Math.min(cfg.vitMaxNumPatchPerSide() * p, Math.round(imageSize / (float) p) * p));
    this.vitTransform = new ImageTransform(p, vitSide, Math.max(p, vitSide / 2), (long) vitSide * vitSide,
        new float[] {0.5f, 0.5f, 0.5f}, new float[] {0.5f, 0.5f, 0.5f});
  }

  private static int patch(BagelConfig cfg) {
    return cfg.visualUnd() ? cfg.vit().patchSize() : 14;
  }

  /** The VAE transform for a generated or input image of {@code size} pixels (stride 16, as the example's groups). */
  ImageTransform vaeTransform(int size) {
    int stride = Math.max(16, cfg.latentDownsample());
    int side = Math.max(stride, size / stride * stride);
    int maxSide = Math.min(side, cfg.maxLatentSize() * cfg.latentDownsample());
    return new ImageTransform(stride, maxSide, Math.min(maxSide, Math.max(stride, maxSide / 2)), Long.MAX_VALUE,
        new float[] {0.5f, 0.5f, 0.5f}, new float[] {0.5f, 0.5f, 0.5f});
  }

  /**
   * Plans one sample of {@code items}. A sample needs something to learn from to be planned, so contexts without
   * a generation target carry a one-token loss text, dropped again here.
   */
  PlannedSample plan(List<SampleItem> items, int imageSize) {
    List<SampleItem> all = new ArrayList<>(items);
    boolean target = items.stream().anyMatch(i -> i instanceof SampleItem.Image im && im.vaeTarget());
    if (!target) {
      all.add(new SampleItem.Text(".", true, false));
    }
    SkipCounter skips = new SkipCounter();
    SequencePlanner planner = new SequencePlanner(data, tokens, encoder, vaeTransform(imageSize), vitTransform);
    PlannedSample s = planner.plan(new Sample("infer", "infer", all), 0, skips).orElseThrow(
        () -> new IllegalArgumentException("cannot lay out the inference context: " + skips));
    if (target) {
      return s;
    }
    List<PlannedSplit> splits = new ArrayList<>(s.splits());
    splits.remove(splits.size() - 1);
    return new PlannedSample(s.key(), s.cost(), splits);
  }

  /** The RoPE id the next split of {@code s} takes. */
  static int nextRope(PlannedSample s) {
    int rope = 0;
    for (PlannedSplit split : s.splits()) {
      if (split instanceof PlannedSplit.Text t) {
        rope = t.firstPosition() + t.length();
      } else if (split instanceof PlannedSplit.Vit v) {
        rope = v.position() + 1;
      } else if (split instanceof PlannedSplit.Vae v) {
        rope = v.noise() ? v.position() : v.position() + 1;
      }
    }
    return rope;
  }

  /** {@code s} followed by a text split of the given ids (causal, no loss, no eos appended). */
  static PlannedSample withText(PlannedSample s, int[] ids) {
    List<PlannedSplit> splits = new ArrayList<>(s.splits());
    splits.add(new PlannedSplit.Text(ids, nextRope(s), null, 0f));
    return new PlannedSample(s.key(), s.cost() + ids.length, splits);
  }

  PackedBatch pack(PlannedSample s) {
    PackBuilder b = new PackBuilder(tokens.visionStart(), tokens.visionEnd());
    b.add(s);
    return b.build();
  }

  int bos() {
    return tokens.bos();
  }

  int eos() {
    return tokens.eos();
  }

  /** A blank picture standing in for the image being generated (its pixels are never used). */
  static SampleItem.Image target(int size) {
    return new SampleItem.Image(new DecodedImageSource(new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB),
        "generated image"), false, false, true);
  }

  static SampleItem.Image input(BufferedImage image, boolean vit, boolean vae) {
    return new SampleItem.Image(new DecodedImageSource(image, "input image"), vit, vae, false);
  }

  static SampleItem.Text prompt(String text) {
    return new SampleItem.Text(text, false, false);
  }
}
