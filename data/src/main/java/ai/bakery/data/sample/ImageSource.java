package ai.bakery.data.sample;

import java.awt.image.BufferedImage;
import java.io.IOException;

/** Pixels of one image, decoded on demand (bytes from a parquet cell, a file under a data root, a video frame). */
public interface ImageSource {
  /** Decodes to RGB. Throws with a message naming the source when bytes are corrupt or the file is missing. */
  BufferedImage load() throws IOException;

  /** Where it came from, for skip logs. */
  String describe();
}
