package ai.bakery.data.image;

import ai.bakery.data.sample.ImageSource;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLConnection;

/** An http(s) image, fetched when loaded; only produced when a dataset sets {@code allow_urls}. */
public record UrlImageSource(URI uri) implements ImageSource {
  private static final int TIMEOUT_MS = 30_000;

  @Override
  public BufferedImage load() throws IOException {
    URLConnection c = uri.toURL().openConnection();
    c.setConnectTimeout(TIMEOUT_MS);
    c.setReadTimeout(TIMEOUT_MS);
    try (InputStream in = c.getInputStream()) {
      return ImageDecoding.decode(in, uri.toString());
    }
  }

  @Override
  public String describe() {
    return uri.toString();
  }
}
