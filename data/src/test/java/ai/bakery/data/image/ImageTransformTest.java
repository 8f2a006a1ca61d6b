package ai.bakery.data.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.plan.PreparedImage;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import org.junit.jupiter.api.Test;

class ImageTransformTest {
  private static final float[] HALF = {0.5f, 0.5f, 0.5f};

  private static ImageTransform vae() {
    return new ImageTransform(16, 1024, 512, 14L * 14 * 9 * 1024, HALF, HALF);
  }

  @Test
  void sizesFollowTheReferenceRules() {
    // 800x600: no scaling, 600/16 = 37.5 rounds half to even -> 38 -> 608
    assertArrayEquals(new int[] {608, 800}, vae().targetSize(800, 600, 1));
    // 2000x500: min edge pushes scale to 1.024 -> 2048x512, then the long edge is cut back to 1024 -> 1024x256
    assertArrayEquals(new int[] {256, 1024}, vae().targetSize(2000, 500, 1));
    // tiny image: scaled up so the short edge reaches 512: 100x50 -> scale 10.24 -> 1024x512
    assertArrayEquals(new int[] {512, 1024}, vae().targetSize(100, 50, 1));
    // max_pixels shared by 4 images (ViT args of the reference's vlm_sft group): 980x980 ->
    // budget 501760 -> sides scaled by the area ratio 0.5224 -> 512 -> nearest multiple of 14 is 518
    ImageTransform vit = new ImageTransform(14, 980, 378, 2_007_040, HALF, HALF);
    assertArrayEquals(new int[] {518, 518}, vit.targetSize(980, 980, 4));
    assertArrayEquals(new int[] {980, 980}, vit.targetSize(980, 980, 1));
    // Python rounding: 40/16 = 2.5 -> 2 (half to even), 24/16 = 1.5 -> 2
    ImageTransform small = new ImageTransform(16, 1024, 16, 1 << 20, HALF, HALF);
    assertArrayEquals(new int[] {32, 32}, small.targetSize(40, 24, 1));
    // never below one stride
    assertArrayEquals(new int[] {16, 16}, small.targetSize(3, 3, 1));
  }

  @Test
  void normalisesToMinusOneOne() {
    BufferedImage img = new BufferedImage(32, 32, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setColor(new Color(255, 0, 128));
    g.fillRect(0, 0, 32, 32);
    g.dispose();
    PreparedImage p = new ImageTransform(16, 32, 32, 1 << 20, HALF, HALF).prepare(img, 1);
    assertEquals(32, p.height());
    assertEquals(32, p.width());
    int plane = 32 * 32;
    for (int i = 0; i < plane; i++) {
      assertEquals(1f, p.chw()[i], 1e-6);
      assertEquals(-1f, p.chw()[plane + i], 1e-6);
      assertEquals(128f / 255f * 2f - 1f, p.chw()[2 * plane + i], 1e-6);
    }
  }

  @Test
  void bicubicAntialiasedDownscaleMatchesPilsWeights() {
    // 4x1 grey [0, 0, 255, 255] -> 2x1. PIL's coefficients for scale 2 (support 4, a = -0.5):
    // output 0 weights over inputs 0..3: [0.8671875, 0.8671875, 0.2265625, -0.0703125] / 1.890625
    // = 255 * 0.15625 / 1.890625 = 21.07 -> 21; output 1 mirrors it: 234.
    BufferedImage img = new BufferedImage(4, 1, BufferedImage.TYPE_INT_RGB);
    int[] v = {0, 0, 255, 255};
    for (int x = 0; x < 4; x++) {
      img.setRGB(x, 0, v[x] << 16 | v[x] << 8 | v[x]);
    }
    float[] out = BicubicResize.resize(img, 2, 1);
    assertEquals(21f, out[0]);
    assertEquals(234f, out[3]);
  }

  @Test
  void resizeKeepsFlatRegionsAndOrientation() {
    BufferedImage img = new BufferedImage(64, 32, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setColor(Color.RED);
    g.fillRect(0, 0, 32, 32);
    g.setColor(Color.BLUE);
    g.fillRect(32, 0, 32, 32);
    g.dispose();
    PreparedImage p = new ImageTransform(16, 32, 16, 1 << 20, HALF, HALF).prepare(img, 1);
    assertEquals(16, p.height());
    assertEquals(32, p.width());
    int plane = 16 * 32;
    // left column red (R = 1, B = -1), right column blue
    assertEquals(1f, p.chw()[5 * 32], 1e-6);
    assertEquals(-1f, p.chw()[2 * plane + 5 * 32], 1e-6);
    assertEquals(-1f, p.chw()[5 * 32 + 31], 1e-6);
    assertEquals(1f, p.chw()[2 * plane + 5 * 32 + 31], 1e-6);
    for (float f : p.chw()) {
      assertTrue(f >= -1f && f <= 1f);
    }
  }

  @Test
  void rejectsBadArguments() {
    assertThrows(IllegalArgumentException.class, () -> new ImageTransform(16, 8, 4, 100, HALF, HALF));
  }
}
