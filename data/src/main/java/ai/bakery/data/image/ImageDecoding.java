package ai.bakery.data.image;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Iterator;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * Decodes JPEG, PNG, WebP (TwelveMonkeys plugin), BMP and GIF to 8-bit RGB, the way the reference's
 * {@code pil_img2rgb} does: transparency is composited onto white. Every failure is an {@link IOException}
 * naming the source.
 */
public final class ImageDecoding {
  /** The reference's decompression-bomb guard (PIL's MAX_IMAGE_PIXELS as its readers set it). */
  public static final long MAX_PIXELS = 200_000_000L;

  static {
    // Registers plugins found on the class path (TwelveMonkeys WebP) even when ImageIO was first touched by
    // a class loader that did not see them.
    ImageIO.scanForPlugins();
    ImageIO.setUseCache(false);
  }

  private ImageDecoding() {}

  /** Width and height from the header only, cheap enough for a reader to check every image. */
  public static int[] probe(byte[] bytes, String source) throws IOException {
    return probe(ImageIO.createImageInputStream(new ByteArrayInputStream(bytes)), source);
  }

  /** Width and height of an image file, reading only its header. */
  public static int[] probe(java.nio.file.Path file) throws IOException {
    return probe(ImageIO.createImageInputStream(file.toFile()), file.toString());
  }

  private static int[] probe(ImageInputStream stream, String source) throws IOException {
    if (stream == null) {
      throw new IOException("cannot open image: " + source);
    }
    try (ImageInputStream in = stream) {
      ImageReader reader = readerFor(in, source);
      try {
        reader.setInput(in, true, true);
        int[] wh = {reader.getWidth(0), reader.getHeight(0)};
        checkSize(wh[0], wh[1], source);
        return wh;
      } catch (ImageTooLargeException e) {
        throw e;
      } catch (IOException | RuntimeException e) {
        throw new IOException("corrupt image header in " + source + ": " + e.getMessage(), e);
      } finally {
        reader.dispose();
      }
    }
  }

  /** Decodes to {@code TYPE_INT_RGB}. */
  public static BufferedImage decode(byte[] bytes, String source) throws IOException {
    return decode(new ByteArrayInputStream(bytes), source);
  }

  /** Decodes a stream to {@code TYPE_INT_RGB}; the caller closes the stream. */
  public static BufferedImage decode(InputStream stream, String source) throws IOException {
    try (ImageInputStream in = ImageIO.createImageInputStream(stream)) {
      if (in == null) {
        throw new IOException("cannot open image stream: " + source);
      }
      ImageReader reader = readerFor(in, source);
      try {
        reader.setInput(in, true, true);
        checkSize(reader.getWidth(0), reader.getHeight(0), source);
        return toRgb(reader.read(0));
      } catch (ImageTooLargeException e) {
        throw e;
      } catch (IOException | RuntimeException e) {
        throw new IOException("corrupt image " + source + ": " + e.getMessage(), e);
      } finally {
        reader.dispose();
      }
    }
  }

  /** An image over {@link #MAX_PIXELS}: refused before its pixels are allocated. */
  public static final class ImageTooLargeException extends IOException {
    ImageTooLargeException(String message) {
      super(message);
    }
  }

  private static void checkSize(int w, int h, String source) throws ImageTooLargeException {
    if ((long) w * h > MAX_PIXELS || w <= 0 || h <= 0) {
      throw new ImageTooLargeException("image " + w + " x " + h + " exceeds " + MAX_PIXELS + " pixels: " + source);
    }
  }

  private static ImageReader readerFor(ImageInputStream in, String source) throws IOException {
    Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
    if (!readers.hasNext()) {
      throw new IOException("not a decodable image (unknown or corrupt format): " + source);
    }
    return readers.next();
  }

  /** Alpha composited over white, like the reference's pil_img2rgb. */
  public static BufferedImage toRgb(BufferedImage img) {
    if (img.getType() == BufferedImage.TYPE_INT_RGB) {
      return img;
    }
    BufferedImage rgb = new BufferedImage(img.getWidth(), img.getHeight(), BufferedImage.TYPE_INT_RGB);
    Graphics2D g = rgb.createGraphics();
    try {
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, img.getWidth(), img.getHeight());
      g.drawImage(img, 0, 0, null);
    } finally {
      g.dispose();
    }
    return rgb;
  }
}
