package ai.bakery.runtime.infer;

import ai.djl.ndarray.NDArray;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import javax.imageio.ImageIO;

/** Pixels between the model's (3, H, W) [-1, 1] tensors and RGB images and PNG files. */
public final class Images {
  private Images() {}

  /** (3, H, W) in [-1, 1] to RGB, as the reference's decode_image: x * 0.5 + 0.5, clamped, times 255. */
  public static BufferedImage toImage(NDArray chw) {
    var s = chw.getShape();
    if (s.dimension() != 3 || s.get(0) != 3) {
      throw new IllegalArgumentException("image tensor " + s + " is not (3, H, W)");
    }
    int h = (int) s.get(1);
    int w = (int) s.get(2);
    float[] v = chw.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    int plane = h * w;
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int i = y * w + x;
        img.setRGB(x, y, (channel(v[i]) << 16) | (channel(v[plane + i]) << 8) | channel(v[2 * plane + i]));
      }
    }
    return img;
  }

  private static int channel(float x) {
    double u = Math.max(0, Math.min(1, x * 0.5 + 0.5));
    return (int) Math.round(u * 255);
  }

  public static void writePng(BufferedImage img, Path file) {
    try {
      Path parent = file.toAbsolutePath().getParent();
      if (parent != null) {
        Files.createDirectories(parent);
      }
      // whole or not at all: a command stopped mid-write leaves no half PNG under the asked-for name
      Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
      if (!ImageIO.write(img, "png", tmp.toFile())) {
        throw new IOException("no PNG writer");
      }
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(file + ": cannot write PNG: " + e.getMessage(), e);
    }
  }

  public static BufferedImage read(Path file) {
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("--image: " + file + " not found");
    }
    try {
      BufferedImage img = ImageIO.read(file.toFile());
      if (img == null) {
        throw new IllegalArgumentException("--image: " + file + " is not an image ImageIO can decode (PNG, JPEG, BMP, GIF)");
      }
      return img;
    } catch (IOException e) {
      throw new IllegalArgumentException("--image: cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  /** Mean RGB of an image, each channel in [0, 255]. */
  public static double[] meanRgb(BufferedImage img) {
    double[] m = new double[3];
    int n = img.getWidth() * img.getHeight();
    for (int y = 0; y < img.getHeight(); y++) {
      for (int x = 0; x < img.getWidth(); x++) {
        int p = img.getRGB(x, y);
        m[0] += (p >> 16) & 0xff;
        m[1] += (p >> 8) & 0xff;
        m[2] += p & 0xff;
      }
    }
    for (int i = 0; i < 3; i++) {
      m[i] /= n;
    }
    return m;
  }
}
