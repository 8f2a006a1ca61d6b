package ai.bakery.data.source;

import ai.bakery.data.image.BytesImageSource;
import ai.bakery.data.image.FileImageSource;
import ai.bakery.data.image.ImageDecoding;
import ai.bakery.data.image.UrlImageSource;
import ai.bakery.data.sample.ImageSource;
import java.io.IOException;
import java.util.SplittableRandom;

/**
 * What a row mapper knows about the row it maps: its key, its own random generator and the dataset's media
 * resolver. Image helpers check each image's header now (cheap) so corrupt and missing images are counted
 * where the row is read; pixels are decoded later by the planner.
 *
 * @param key the sample key ({@code dataset/file#unit:row})
 * @param source the dataset
 * @param random this row's generator (see {@link RowRandom})
 * @param media resolves media paths inside the data root; null for formats whose rows carry bytes
 */
public record RowContext(String key, DatasetSource source, SplittableRandom random, MediaResolver media) {

  /** An image held as bytes in the row. */
  public ImageSource imageFromBytes(byte[] bytes, String what) throws SkipException {
    String where = key + " " + what;
    if (bytes == null || bytes.length == 0) {
      throw new SkipException(SkipReason.CORRUPT_IMAGE, "empty image bytes at " + where);
    }
    try {
      ImageDecoding.probe(bytes, where);
    } catch (IOException e) {
      throw new SkipException(SkipReason.CORRUPT_IMAGE, e.getMessage());
    }
    return new BytesImageSource(bytes, where);
  }

  /** An image referenced by path or URL, resolved inside the data root. */
  public ImageSource imageFromRef(String ref) throws SkipException {
    if (media == null) {
      throw new SkipException(SkipReason.MISSING_IMAGE, "dataset " + source.name() + " has no data folder for " + ref);
    }
    MediaResolver.Media m = media.resolve(ref);
    if (m.url() != null) {
      return new UrlImageSource(m.url());
    }
    try {
      ImageDecoding.probe(m.path());
    } catch (IOException e) {
      throw new SkipException(SkipReason.CORRUPT_IMAGE, e.getMessage());
    }
    return new FileImageSource(m.path());
  }
}
