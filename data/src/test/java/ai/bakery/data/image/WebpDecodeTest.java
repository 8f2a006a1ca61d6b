package ai.bakery.data.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * Decodes a real lossless WebP (VP8L) assembled bit by bit: a solid-colour image whose five prefix codes
 * are single-symbol "simple" codes, so every pixel costs zero bits and the whole bitstream is a header.
 * (No WebP encoder is on the class path; this is a spec-conformant VP8L stream built from the format's bit
 * layout.)
 */
class WebpDecodeTest {

  /** LSB-first bit writer, as VP8L packs its bits. */
  private static final class Bits {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private int acc;
    private int n;

    void put(int value, int bits) {
      for (int i = 0; i < bits; i++) {
        acc |= ((value >> i) & 1) << n;
        if (++n == 8) {
          out.write(acc);
          acc = 0;
          n = 0;
        }
      }
    }

    byte[] bytes() {
      if (n > 0) {
        out.write(acc);
      }
      return out.toByteArray();
    }
  }

  static byte[] solidWebp(int width, int height, int r, int g, int b) {
    Bits bits = new Bits();
    bits.put(0x2f, 8); // VP8L signature
    bits.put(width - 1, 14);
    bits.put(height - 1, 14);
    bits.put(0, 1); // alpha unused
    bits.put(0, 3); // version 0
    bits.put(0, 1); // no transform
    bits.put(0, 1); // no colour cache
    bits.put(0, 1); // no meta prefix codes
    for (int symbol : new int[] {g, r, b, 255, 0}) { // green, red, blue, alpha, distance
      bits.put(1, 1); // simple code
      bits.put(0, 1); // one symbol
      if (symbol < 2) {
        bits.put(0, 1);
        bits.put(symbol, 1);
      } else {
        bits.put(1, 1);
        bits.put(symbol, 8);
      }
    }
    // TwelveMonkeys refills its bit buffer 8 bytes at a time: trailing zero bytes (ignored by decoders) let
    // it read past the last header bit.
    byte[] header = bits.bytes();
    byte[] vp8l = java.util.Arrays.copyOf(header, header.length + 8);
    ByteArrayOutputStream riff = new ByteArrayOutputStream();
    int pad = vp8l.length & 1;
    riff.writeBytes("RIFF".getBytes(StandardCharsets.US_ASCII));
    le32(riff, 4 + 8 + vp8l.length + pad);
    riff.writeBytes("WEBPVP8L".getBytes(StandardCharsets.US_ASCII));
    le32(riff, vp8l.length);
    riff.writeBytes(vp8l);
    if (pad == 1) {
      riff.write(0);
    }
    return riff.toByteArray();
  }

  private static void le32(ByteArrayOutputStream o, int v) {
    o.write(v);
    o.write(v >> 8);
    o.write(v >> 16);
    o.write(v >> 24);
  }

  @Test
  void decodesHandAssembledLosslessWebp() throws IOException {
    byte[] webp = solidWebp(5, 3, 200, 100, 50);
    assertArrayEquals(new int[] {5, 3}, ImageDecoding.probe(webp, "solid.webp"));
    BufferedImage img = ImageDecoding.decode(webp, "solid.webp");
    assertEquals(5, img.getWidth());
    assertEquals(3, img.getHeight());
    for (int y = 0; y < 3; y++) {
      for (int x = 0; x < 5; x++) {
        assertEquals(200 << 16 | 100 << 8 | 50, img.getRGB(x, y) & 0xffffff, "pixel " + x + "," + y);
      }
    }
  }

  @Test
  void decompressionBombsAreRefusedFromTheHeader() {
    byte[] huge = solidWebp(16384, 16384, 1, 2, 3); // 268M pixels in a few bytes
    IOException e = assertThrows(ImageDecoding.ImageTooLargeException.class, () -> ImageDecoding.probe(huge, "bomb"));
    assertTrue(e.getMessage().contains("bomb"), e.getMessage());
    assertThrows(ImageDecoding.ImageTooLargeException.class, () -> ImageDecoding.decode(huge, "bomb"));
  }

  @Test
  void corruptBytesNameTheirSource() {
    IOException e = assertThrows(IOException.class,
        () -> ImageDecoding.decode(new byte[] {'R', 'I', 'F', 'F', 0, 0}, "row 7 of x.parquet"));
    assertTrue(e.getMessage().contains("row 7 of x.parquet"), e.getMessage());
  }
}
