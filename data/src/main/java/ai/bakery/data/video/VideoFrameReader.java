package ai.bakery.data.video;

import ai.bakery.data.image.ImageDecoding;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameGrabber;
import org.bytedeco.javacv.Frame;
import org.bytedeco.javacv.FrameGrabber;
import org.bytedeco.javacv.Java2DFrameConverter;

/**
 * Decodes the sampled frames of a video file with FFmpeg (JavaCPP presets through javacv's grabber). Frames
 * are decoded in order rather than by seeking: seeking lands on key frames in most codecs, and the sampler
 * wants exact indices.
 */
public final class VideoFrameReader {
  static {
    avutil.av_log_set_level(avutil.AV_LOG_ERROR);
  }

  private VideoFrameReader() {}

  /** Samples frames per {@code cfg} with {@code rng} and returns them as RGB images, in index order. */
  public static List<BufferedImage> read(Path video, FrameSamplerConfig cfg, SplittableRandom rng)
      throws IOException {
    int total = countFrames(video);
    int[] wanted = FrameIndices.sample(cfg, total, rng);
    return decode(video, wanted);
  }

  /** Frames in the video, counted by decoding (container metadata is often an estimate). */
  public static int countFrames(Path video) throws IOException {
    try (FFmpegFrameGrabber g = new FFmpegFrameGrabber(video.toFile())) {
      g.start();
      int n = 0;
      while (g.grabImage() != null) {
        n++;
      }
      if (n == 0) {
        throw new IOException("video has no decodable frames: " + video);
      }
      return n;
    } catch (FrameGrabber.Exception | RuntimeException e) {
      throw new IOException("cannot decode video " + video + ": " + e.getMessage(), e);
    }
  }

  /** The frames at {@code indices} (sorted, repeats allowed); missing tail indices repeat the last frame. */
  public static List<BufferedImage> decode(Path video, int[] indices) throws IOException {
    List<BufferedImage> out = new ArrayList<>(indices.length);
    try (FFmpegFrameGrabber g = new FFmpegFrameGrabber(video.toFile());
        Java2DFrameConverter conv = new Java2DFrameConverter()) {
      g.start();
      int frameNo = -1;
      BufferedImage current = null;
      for (int want : indices) {
        while (frameNo < want) {
          Frame f = g.grabImage();
          if (f == null) {
            break;
          }
          frameNo++;
          if (frameNo == want) {
            current = ImageDecoding.toRgb(copyOf(conv.convert(f)));
          }
        }
        if (current == null) {
          throw new IOException("video has no decodable frames: " + video);
        }
        out.add(current);
      }
      return out;
    } catch (FrameGrabber.Exception | RuntimeException e) {
      throw new IOException("cannot decode video " + video + ": " + e.getMessage(), e);
    }
  }

  /** The converter reuses its image between frames; keep a private copy. */
  private static BufferedImage copyOf(BufferedImage img) {
    BufferedImage copy = new BufferedImage(img.getWidth(), img.getHeight(), BufferedImage.TYPE_INT_RGB);
    java.awt.Graphics g = copy.getGraphics();
    try {
      g.drawImage(img, 0, 0, null);
    } finally {
      g.dispose();
    }
    return copy;
  }
}
