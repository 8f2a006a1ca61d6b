package ai.bakery.data.video;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.bytedeco.ffmpeg.global.avcodec;
import org.bytedeco.javacv.FFmpegFrameRecorder;
import org.bytedeco.javacv.Java2DFrameConverter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

public class VideoFrameReaderTest {
  @TempDir Path dir;

  /** Writes an FFV1 (lossless) AVI: each colour held for {@code framesPerColour} frames. */
  public static void writeVideo(Path file, Color[] colours, int framesPerColour) throws IOException {
    try (FFmpegFrameRecorder rec = new FFmpegFrameRecorder(file.toFile(), 32, 24);
        Java2DFrameConverter conv = new Java2DFrameConverter()) {
      rec.setFormat("avi");
      rec.setVideoCodec(avcodec.AV_CODEC_ID_FFV1);
      rec.setFrameRate(8);
      rec.start();
      for (Color c : colours) {
        BufferedImage img = new BufferedImage(32, 24, BufferedImage.TYPE_3BYTE_BGR);
        Graphics2D g = img.createGraphics();
        g.setColor(c);
        g.fillRect(0, 0, 32, 24);
        g.dispose();
        for (int i = 0; i < framesPerColour; i++) {
          rec.record(conv.convert(img));
        }
      }
      rec.stop();
    }
  }

  /** Colours survive an RGB -> YUV -> RGB round trip within a small error. */
  public static void assertNear(int expectedRgb, int actualRgb) {
    for (int shift = 0; shift <= 16; shift += 8) {
      int e = (expectedRgb >> shift) & 0xff;
      int a = (actualRgb >> shift) & 0xff;
      assertTrue(Math.abs(e - a) <= 12, String.format("expected ~%06x, got %06x", expectedRgb, actualRgb));
    }
  }

  @Test
  void decodesExactFramesByIndex() throws Exception {
    Color[] colours = {Color.RED, Color.GREEN, Color.BLUE, Color.WHITE, Color.BLACK};
    Path video = dir.resolve("v.avi");
    writeVideo(video, colours, 3);
    assertEquals(15, VideoFrameReader.countFrames(video));
    int[] idx = {0, 3, 4, 8, 14, 14};
    List<BufferedImage> frames = VideoFrameReader.decode(video, idx);
    assertEquals(6, frames.size());
    for (int i = 0; i < idx.length; i++) {
      BufferedImage f = frames.get(i);
      assertEquals(32, f.getWidth());
      assertEquals(24, f.getHeight());
      assertNear(colours[idx[i] / 3].getRGB() & 0xffffff, f.getRGB(16, 12) & 0xffffff);
    }
  }

  @Test
  void samplerDrawsBetweenMinAndMaxFrames() throws Exception {
    Path video = dir.resolve("v.avi");
    writeVideo(video, new Color[] {Color.RED, Color.BLUE}, 10);
    FrameSamplerConfig cfg = new FrameSamplerConfig(8, 4, "rand");
    boolean sawMin = false;
    boolean sawMax = false;
    for (int seed = 0; seed < 40; seed++) {
      int[] idx = FrameIndices.sample(cfg, 20, new SplittableRandom(seed));
      assertTrue(idx.length >= 4 && idx.length <= 8);
      sawMin |= idx.length == 4;
      sawMax |= idx.length == 8;
      // one frame from each of idx.length equal intervals, in order
      for (int i = 0; i < idx.length; i++) {
        int lo = (int) (i * (20.0 / idx.length));
        int hi = i == idx.length - 1 ? 20 : (int) ((i + 1) * (20.0 / idx.length));
        assertTrue(idx[i] >= lo && idx[i] < hi - 1 || (hi - lo == 1 && idx[i] == lo), "frame " + idx[i]);
      }
    }
    assertTrue(sawMin && sawMax);
    List<BufferedImage> frames = VideoFrameReader.read(video, cfg, new SplittableRandom(7));
    assertTrue(frames.size() >= 4 && frames.size() <= 8);
  }

  @Test
  void referenceIndexRules() {
    SplittableRandom rng = new SplittableRandom(1);
    // middle of linspace(0, 10, 4) = [0, 2, 5, 7, 10] -> ranges (0,1) (2,4) (5,6) (7,9)
    assertArrayEquals(new int[] {0, 3, 5, 8}, FrameIndices.indices(4, 10, "middle", rng));
    // a video shorter than wanted: every frame once, then the last repeated
    assertArrayEquals(new int[] {0, 1, 2, 2, 2}, FrameIndices.indices(5, 3, "middle", rng));
    // intervals of one frame fall back to a sorted random subset
    int[] r = FrameIndices.indices(3, 3, "rand", rng);
    assertArrayEquals(new int[] {0, 1, 2}, r);
  }

  @Test
  void garbageFileIsAnIOExceptionNamingIt() throws Exception {
    Path bad = dir.resolve("bad.mp4");
    Files.write(bad, new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
    IOException e = assertThrows(IOException.class, () -> VideoFrameReader.countFrames(bad));
    assertTrue(e.getMessage().contains("bad.mp4"), e.getMessage());
  }
}
