package ai.bakery.data.image;

import ai.bakery.data.sample.ImageSource;
import java.awt.image.BufferedImage;

/** Pixels already decoded (a video frame); {@link #load()} returns them as they are. */
public record DecodedImageSource(BufferedImage image, String describe) implements ImageSource {
  @Override
  public BufferedImage load() {
    return image;
  }
}
