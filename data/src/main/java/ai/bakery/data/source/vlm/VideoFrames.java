package ai.bakery.data.source.vlm;

import ai.bakery.data.image.DecodedImageSource;
import ai.bakery.data.sample.ImageSource;
import ai.bakery.data.source.MediaResolver;
import ai.bakery.data.source.RowContext;
import ai.bakery.data.source.SkipException;
import ai.bakery.data.source.SkipReason;
import ai.bakery.data.video.FrameIndices;
import ai.bakery.data.video.FrameSamplerConfig;
import ai.bakery.data.video.VideoFrameReader;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import java.util.stream.Stream;

/**
 * A record's video as sampled frames, each an image for the ViT: a video file decoded with FFmpeg, or a
 * folder of frame images.
 */
public final class VideoFrames {
  private static final Pattern FRAME_NUMBER = Pattern.compile("_(\\d+)\\.jpg$");
  private static final Pattern IMAGE_FILE = Pattern.compile("(?i).*\\.(jpe?g|png|webp|bmp)$");

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
    if (Files.isDirectory(m.path())) {
      return folderFrames(ref, m.path(), ctx);
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

  /**
   * A video stored as a folder of frame images, as the reference's {@code read_frames_folder} reads it: files
   * ordered by the number in {@code name_<n>.jpg} (others first, by name); when there are more frames than
   * the drawn count, that many are sampled, else all are kept. Each frame is resolved inside the data root.
   */
  static List<ImageSource> folderFrames(String ref, Path folder, RowContext ctx) throws SkipException {
    List<String> names = new ArrayList<>();
    try (Stream<Path> files = Files.list(folder)) {
      files.filter(Files::isRegularFile).map(p -> p.getFileName().toString())
          .filter(n -> IMAGE_FILE.matcher(n).matches()).forEach(names::add);
    } catch (IOException e) {
      throw new SkipException(SkipReason.CORRUPT_VIDEO, "unreadable frame folder " + folder + ": " + e.getMessage());
    }
    if (names.isEmpty()) {
      throw new SkipException(SkipReason.CORRUPT_VIDEO, "frame folder without images: " + folder);
    }
    names.sort(Comparator.comparingLong(VideoFrames::frameNumber).thenComparing(n -> n));
    FrameSamplerConfig cfg = ctx.source().options().frameSampler();
    int want = cfg.minNumFrames() + ctx.random().nextInt(cfg.maxNumFrames() - cfg.minNumFrames() + 1);
    int[] keep = names.size() > want
        ? FrameIndices.indices(want, names.size(), cfg.sample(), ctx.random())
        : IntStream.range(0, names.size()).toArray();
    String prefix = ref.endsWith("/") ? ref : ref + "/";
    List<ImageSource> out = new ArrayList<>(keep.length);
    for (int i : keep) {
      out.add(ctx.imageFromRef(prefix + names.get(i)));
    }
    return out;
  }

  private static long frameNumber(String name) {
    Matcher m = FRAME_NUMBER.matcher(name);
    return m.find() ? Long.parseLong(m.group(1)) : -1;
  }
}
