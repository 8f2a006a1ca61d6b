package ai.bakery.runtime.vae;

import ai.bakery.data.image.ImageTransform;
import ai.bakery.data.plan.PreparedImage;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The images under a folder (recursively), served as shuffled square batches in [-1, 1], CHW, the range FLUX's
 * autoencoder works in. Every image is centre-cropped to a square, then resized by the data module's
 * {@link ImageTransform} (bicubic, as the reference). An unreadable file is logged, counted by reason once, and
 * left out of later passes.
 */
final class ImageFolder {
  private static final Logger LOG = LoggerFactory.getLogger(ImageFolder.class);
  private static final List<String> EXTENSIONS = List.of(".png", ".jpg", ".jpeg", ".webp", ".bmp");

  private final List<Path> files;
  private final int size;
  private final ImageTransform transform;
  private final SplittableRandom rng;
  private final Map<String, Long> skips = new TreeMap<>();
  private final List<Path> order = new ArrayList<>();
  private final java.util.Set<Path> unreadable = new java.util.HashSet<>();
  private int cursor;

  ImageFolder(Path root, int size, long seed) {
    if (!Files.isDirectory(root)) {
      throw new IllegalArgumentException("images: " + root + " is not a folder");
    }
    try (Stream<Path> walk = Files.walk(root)) {
      files = walk.filter(Files::isRegularFile)
          .filter(p -> EXTENSIONS.stream().anyMatch(p.getFileName().toString().toLowerCase(Locale.ROOT)::endsWith))
          .sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException("images: cannot list " + root + ": " + e.getMessage(), e);
    }
    if (files.isEmpty()) {
      throw new IllegalArgumentException("images: no image files (" + EXTENSIONS + ") under " + root);
    }
    this.size = size;
    // mean 0.5, std 0.5 maps [0, 1] to [-1, 1]
    this.transform = new ImageTransform(1, size, size, (long) size * size, new float[] {.5f, .5f, .5f},
        new float[] {.5f, .5f, .5f});
    this.rng = new SplittableRandom(seed);
  }

  int fileCount() {
    return files.size();
  }

  Map<String, Long> skips() {
    return Map.copyOf(skips);
  }

  /** The next {@code batch} images, (batch, 3, size, size) flattened; reshuffles at each pass. */
  float[] next(int batch) {
    int plane = 3 * size * size;
    float[] out = new float[batch * plane];
    int filled = 0;
    int failuresInARow = 0;
    while (filled < batch) {
      if (cursor == order.size()) {
        reshuffle();
      }
      Path file = order.get(cursor++);
      float[] chw = load(file);
      if (chw == null) {
        if (++failuresInARow > files.size() || unreadable.size() == files.size()) {
          throw new IllegalStateException("images: not one of the " + files.size() + " files is readable; skips "
              + skips);
        }
        continue;
      }
      failuresInARow = 0;
      System.arraycopy(chw, 0, out, filled * plane, plane);
      filled++;
    }
    return out;
  }

  /** The first {@code n} images in name order (a fixed evaluation batch). */
  float[] fixed(int n) {
    int plane = 3 * size * size;
    float[] out = new float[n * plane];
    int filled = 0;
    for (Path f : files) {
      if (filled == n) {
        break;
      }
      float[] chw = load(f);
      if (chw != null) {
        System.arraycopy(chw, 0, out, filled++ * plane, plane);
      }
    }
    if (filled < n) {
      throw new IllegalStateException("images: only " + filled + " readable images, " + n + " wanted");
    }
    return out;
  }

  private void reshuffle() {
    order.clear();
    for (Path f : files) {
      if (!unreadable.contains(f)) {
        order.add(f);
      }
    }
    for (int i = order.size() - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      Path t = order.get(i);
      order.set(i, order.get(j));
      order.set(j, t);
    }
    cursor = 0;
  }

  private float[] load(Path file) {
    BufferedImage img;
    try {
      img = ImageIO.read(file.toFile());
    } catch (IOException | RuntimeException e) {
      skip("corrupt_image", file, e.getMessage());
      return null;
    }
    if (img == null) {
      skip("unsupported_format", file, "no ImageIO reader");
      return null;
    }
    int side = Math.min(img.getWidth(), img.getHeight());
    if (side < 1) {
      skip("empty_image", file, img.getWidth() + "x" + img.getHeight());
      return null;
    }
    BufferedImage square = img.getSubimage((img.getWidth() - side) / 2, (img.getHeight() - side) / 2, side, side);
    PreparedImage p = transform.prepare(square, 1);
    if (p.height() != size || p.width() != size) {
      throw new IllegalStateException("transform gave " + p.height() + "x" + p.width() + ", want " + size);
    }
    return p.chw();
  }

  private void skip(String reason, Path file, String detail) {
    if (!unreadable.add(file)) {
      return;
    }
    long n = skips.merge(reason, 1L, Long::sum);
    LOG.warn("Skipping {} ({}: {}); {} skipped for this reason so far.", file, reason, detail, n);
  }
}
