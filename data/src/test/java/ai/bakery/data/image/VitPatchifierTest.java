package ai.bakery.data.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.bakery.data.plan.PreparedImage;
import org.junit.jupiter.api.Test;

class VitPatchifierTest {
  @Test
  void patchOrderIsRowMajorThenPixelThenChannel() {
    // (3, 4, 6) image with value c*100 + y*10 + x; patch 2 -> grid 2 x 3
    int h = 4;
    int w = 6;
    float[] chw = new float[3 * h * w];
    for (int c = 0; c < 3; c++) {
      for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
          chw[c * h * w + y * w + x] = c * 100 + y * 10 + x;
        }
      }
    }
    VitPatchifier p = new VitPatchifier(2, 70);
    float[] out = p.patchify(new PreparedImage(h, w, chw));
    assertEquals(6 * 12, out.length);
    assertEquals(12, p.patchDim());
    // patch (row 1, col 2) is patch 5; its element (py=1, px=0, c=2) is at (1*2 + 0)*3 + 2 = 8
    // and holds pixel y = 1*2 + 1 = 3, x = 2*2 + 0 = 4 of channel 2: 234
    assertEquals(234f, out[5 * 12 + 8]);
    // first patch, in order: (0,0,c0..2), (0,1,c0..2), (1,0,...), (1,1,...)
    assertArrayEquals(new float[] {0, 100, 200, 1, 101, 201, 10, 110, 210, 11, 111, 211},
        java.util.Arrays.copyOf(out, 12));
  }

  @Test
  void positionIds() {
    VitPatchifier p = new VitPatchifier(14, 70);
    assertArrayEquals(new int[] {0, 1, 2, 70, 71, 72}, p.positionIds(2, 3));
    // interpolating: a 2-patch side lands in buckets 0 and 35 of 70
    assertArrayEquals(new int[] {0, 35, 35 * 70, 35 * 70 + 35}, p.interpolatedPositionIds(2, 2));
  }
}
