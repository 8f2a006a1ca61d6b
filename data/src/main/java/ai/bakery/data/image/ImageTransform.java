package ai.bakery.data.image;

import ai.bakery.data.group.TransformArgs;
import ai.bakery.data.plan.ImagePreparer;
import ai.bakery.data.plan.PreparedImage;
import java.awt.image.BufferedImage;

/**
 * The reference's image transform: resize keeping the aspect ratio so the long edge is at most
 * {@code maxSize} and the short edge at least {@code minSize}, both sides rounded to a multiple of
 * {@code stride}, the pixel count capped at {@code maxPixels / imagesInSample}; bicubic resampling with
 * antialiasing (as PIL does); then to (3, H, W) floats in [0, 1], normalised by mean and std (0.5 each maps to
 * [-1, 1]). The VAE's stride is its downsample times the latent patch size (8 x 2 = 16), the ViT's its patch
 * size (14).
 */
public final class ImageTransform implements ImagePreparer {
  private final int stride;
  private final int maxSize;
  private final int minSize;
  private final long maxPixels;
  private final float[] mean;
  private final float[] std;

  public ImageTransform(int stride, int maxSize, int minSize, long maxPixels, float[] mean, float[] std) {
    if (stride <= 0 || maxSize < stride || minSize <= 0 || maxPixels <= 0) {
      throw new IllegalArgumentException("bad image transform: stride " + stride + ", max_image_size " + maxSize
          + ", min_image_size " + minSize + ", max_pixels " + maxPixels);
    }
    if (mean.length != 3 || std.length != 3) {
      throw new IllegalArgumentException("image_mean and image_std need 3 values");
    }
    this.stride = stride;
    this.maxSize = maxSize;
    this.minSize = minSize;
    this.maxPixels = maxPixels;
    this.mean = mean.clone();
    this.std = std.clone();
  }

  /** From a group's {@code image_transform_args}. */
  public static ImageTransform of(TransformArgs a) {
    float[] mean = new float[3];
    float[] std = new float[3];
    for (int i = 0; i < 3; i++) {
      mean[i] = a.imageMean().get(i).floatValue();
      std[i] = a.imageStd().get(i).floatValue();
    }
    return new ImageTransform(a.imageStride(), a.maxImageSize(), a.minImageSize(), a.maxPixels(), mean, std);
  }

  public int stride() {
    return stride;
  }

  /** Output {height, width} for an input of {@code width x height}, exactly as the reference computes it. */
  public int[] targetSize(int width, int height, int imagesInSample) {
    double scale = Math.min((double) maxSize / Math.max(width, height), 1.0);
    scale = Math.max(scale, (double) minSize / Math.min(width, height));
    int[] wh = applyScale(width, height, scale);
    double budget = (double) maxPixels / imagesInSample;
    if ((double) wh[0] * wh[1] > budget) {
      // the reference scales the sides by the area ratio (not its square root): kept as it is
      wh = applyScale(wh[0], wh[1], budget / ((double) wh[0] * wh[1]));
    }
    if (Math.max(wh[0], wh[1]) > maxSize) {
      wh = applyScale(wh[0], wh[1], (double) maxSize / Math.max(wh[0], wh[1]));
    }
    return new int[] {wh[1], wh[0]};
  }

  private int[] applyScale(int width, int height, double scale) {
    return new int[] {divisible(Math.rint(width * scale)), divisible(Math.rint(height * scale))};
  }

  /** Python's round (half to even), then the nearest multiple of the stride, at least one stride. */
  private int divisible(double value) {
    return (int) Math.max(stride, Math.rint(value / stride) * stride);
  }

  @Override
  public PreparedImage prepare(BufferedImage image, int imagesInSample) {
    int[] hw = targetSize(image.getWidth(), image.getHeight(), Math.max(1, imagesInSample));
    int h = hw[0];
    int w = hw[1];
    float[] rgb = BicubicResize.resize(image, w, h); // (H, W, 3) in [0, 255]
    float[] chw = new float[3 * h * w];
    int plane = h * w;
    for (int c = 0; c < 3; c++) {
      float m = mean[c];
      float inv = 1f / std[c];
      for (int i = 0; i < plane; i++) {
        chw[c * plane + i] = (rgb[i * 3 + c] / 255f - m) * inv;
      }
    }
    return new PreparedImage(h, w, chw);
  }
}
