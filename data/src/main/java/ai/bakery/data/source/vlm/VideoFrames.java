package ai.bakery.data.source.vlm;

import ai.bakery.data.image.DecodedImageSource;
import ai.bakery.data.sample.ImageSource;
import ai.bakery.data.source.MediaResolver;
import ai.bakery.data.source.RowContext;
import ai.bakery.data.source.SkipException;
import ai.bakery.data.source.SkipReason;
import ai.bakery.data.video.VideoFrameReader;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** A record's video as sampled frames, each an image for the ViT. */
public final class VideoFrames {
  private VideoFrames() {}

  /** Samples and decodes a video's frames now: the number of frames shapes the sample. */
  public static List<ImageSource> sample(String ref, RowContext ctx) throws SkipException {
    MediaResolver media = ctx.media();
    if (media == null) {
      throw new SkipException(SkipReason.MISSING_IMAGE, "no data folder for video " + ref);
    }
    MediaResolver.Media m = media.resolve(ref);
    if (m.path() == null) {
      throw new SkipException(SkipReason.URL_NOT_ALLOWED, "video urls are not fetched: " + ref);
    }
    List<BufferedImage> frames;
    try {
      frames = VideoFrameReader.read(m.path(), ctx.source().options().frameSampler(), ctx.random());
    } catch (IOException e) {
      throw new SkipException(SkipReason.CORRUPT_VIDEO, e.getMessage());
    }
    List<ImageSource> out = new ArrayList<>(frames.size());
    for (int i = 0; i < frames.size(); i++) {
      out.add(new DecodedImageSource(frames.get(i), m.path() + " frame " + i));
    }
    return out;
  }
}
