package ai.bakery.data.video;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameGrabber;
import org.bytedeco.javacv.Frame;
import org.bytedeco.javacv.FrameGrabber;

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
    try (FFmpegFrameGrabber g = new FFmpegFrameGrabber(video.toFile())) {
      g.setPixelFormat(avutil.AV_PIX_FMT_BGR24);
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
            current = toRgb(f, video);
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

  /** Copies a BGR24 frame into a fresh RGB image (the grabber reuses its buffers). */
  private static BufferedImage toRgb(Frame f, Path video) throws IOException {
    int w = f.imageWidth;
    int h = f.imageHeight;
    // javacv reports channels as stride / width, so padded rows look like extra channels: trust the BGR24
    // format we asked for and use the stride only as the row pitch in bytes.
    int stride = f.imageStride;
    if (f.imageDepth != Frame.DEPTH_UBYTE || stride < 3 * w || !(f.image[0] instanceof ByteBuffer)) {
      throw new IOException("unexpected frame layout (stride " + stride + " for width " + w + ", depth "
          + f.imageDepth + ") in " + video);
    }
    ByteBuffer buf = (ByteBuffer) f.image[0];
    BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    int[] row = new int[w];
    for (int y = 0; y < h; y++) {
      int base = y * stride;
      for (int x = 0; x < w; x++) {
        int b = buf.get(base + 3 * x) & 0xff;
        int gr = buf.get(base + 3 * x + 1) & 0xff;
        int r = buf.get(base + 3 * x + 2) & 0xff;
        row[x] = (r << 16) | (gr << 8) | b;
      }
      out.setRGB(0, y, w, 1, row, 0, w);
    }
    return out;
  }
}
