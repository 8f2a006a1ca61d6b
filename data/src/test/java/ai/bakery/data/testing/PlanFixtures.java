package ai.bakery.data.testing;

import ai.bakery.data.DataConfig;
import ai.bakery.data.plan.ImagePreparer;
import ai.bakery.data.plan.PreparedImage;
import ai.bakery.data.plan.SequencePlanner;
import ai.bakery.data.plan.SpecialTokens;
import ai.bakery.data.plan.TextEncoder;
import ai.bakery.data.sample.ImageSource;
import ai.bakery.data.sample.SampleItem;
import java.awt.image.BufferedImage;
import java.util.Arrays;

/** Hand-checkable planner inputs: text "5 6 7" encodes to ids [5, 6, 7]; images keep their size. */
public final class PlanFixtures {
  public static final SpecialTokens TOKENS = new SpecialTokens(1000, 1001, 1002, 1003);

  /** Ids are the whitespace-separated integers of the text. */
  public static final TextEncoder ENCODER = text -> text.isBlank() ? new int[0]
      : Arrays.stream(text.trim().split("\\s+")).mapToInt(Integer::parseInt).toArray();

  /** Keeps the image's size; channel c of pixel (y, x) becomes ((rgb >> (16 - 8c)) & 255) / 127.5 - 1. */
  public static final ImagePreparer IDENTITY = PlanFixtures::toChw;

  private PlanFixtures() {}

  public static PreparedImage toChw(BufferedImage image, int imagesInSample) {
    int h = image.getHeight();
    int w = image.getWidth();
    float[] chw = new float[3 * h * w];
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int rgb = image.getRGB(x, y);
        for (int c = 0; c < 3; c++) {
          chw[(c * h + y) * w + x] = ((rgb >> (16 - 8 * c)) & 255) / 127.5f - 1f;
        }
      }
    }
    return new PreparedImage(h, w, chw);
  }

  /** A small config: latent grid up to 4 per side, ViT patch 14, grid up to 3 per side. */
  public static DataConfig config(double text, double vit, double vae) {
    return DataConfig.defaults().withImageLimits(16, 4, 14, 3).withDropout(text, vit, vae);
  }

  /** VAE images keep their size; ViT images are cropped to their top-left 28 x 28 (a 2 x 2 patch grid). */
  public static SequencePlanner planner(DataConfig config) {
    return new SequencePlanner(config, TOKENS, ENCODER, IDENTITY, crop(28, 28));
  }

  public static ImagePreparer crop(int height, int width) {
    return (image, n) -> toChw(image.getSubimage(0, 0, width, height), n);
  }

  /** An in-memory image whose pixel (y, x) has value seed + 7y + 3x in each channel (mod 256). */
  public static ImageSource image(int height, int width, int seed) {
    BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        int v = (seed + 7 * y + 3 * x) & 255;
        img.setRGB(x, y, (v << 16) | (((v + 1) & 255) << 8) | ((v + 2) & 255));
      }
    }
    return new ImageSource() {
      @Override
      public BufferedImage load() {
        return img;
      }

      @Override
      public String describe() {
        return "memory:" + height + "x" + width + "@" + seed;
      }
    };
  }

  public static SampleItem.Text text(String ids, boolean loss, boolean droppable) {
    return new SampleItem.Text(ids, loss, droppable);
  }

  public static SampleItem.Image target(ImageSource source) {
    return new SampleItem.Image(source, false, false, true);
  }

  public static SampleItem.Image condition(ImageSource source) {
    return new SampleItem.Image(source, true, true, false);
  }

  public static SampleItem.Image vit(ImageSource source) {
    return new SampleItem.Image(source, true, false, false);
  }
}
