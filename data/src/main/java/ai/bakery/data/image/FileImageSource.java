package ai.bakery.data.image;

import ai.bakery.data.sample.ImageSource;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** An image file already resolved inside the data root. */
public record FileImageSource(Path path) implements ImageSource {
  @Override
  public BufferedImage load() throws IOException {
    try (InputStream in = Files.newInputStream(path)) {
      return ImageDecoding.decode(in, path.toString());
    } catch (NoSuchFileException e) {
      throw new IOException("missing image file " + path, e);
    }
  }

  @Override
  public String describe() {
    return path.toString();
  }
}
