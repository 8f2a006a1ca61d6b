package ai.bakery.data.image;

import ai.bakery.data.sample.ImageSource;
import java.awt.image.BufferedImage;
import java.io.IOException;

/** Encoded image bytes held in memory (a parquet cell). */
public record BytesImageSource(byte[] bytes, String describe) implements ImageSource {
  @Override
  public BufferedImage load() throws IOException {
    return ImageDecoding.decode(bytes, describe);
  }
}
