package ai.bakery.data.image;

import ai.bakery.data.plan.PreparedImage;

/**
 * Cuts a (3, H, W) image into ViT patches as the reference's {@code patchify} does: patches row-major over
 * the (H/p, W/p) grid, each flattened as (row in patch, column in patch, channel), so one patch is
 * {@code 3 * p * p} values. Position ids are {@code row * maxPatchesPerSide + col} (the reference's
 * extrapolating ids) or the interpolating bucket ids.
 */
public final class VitPatchifier {
  private final int patch;
  private final int maxPatchesPerSide;

  public VitPatchifier(int patch, int maxPatchesPerSide) {
    if (patch <= 0 || maxPatchesPerSide <= 0) {
      throw new IllegalArgumentException("patch and max patches per side must be positive");
    }
    this.patch = patch;
    this.maxPatchesPerSide = maxPatchesPerSide;
  }

  public int patchDim() {
    return 3 * patch * patch;
  }

  /** (numPatches, 3 * p * p), row-major. */
  public float[] patchify(PreparedImage img) {
    int p = patch;
    if (img.height() % p != 0 || img.width() % p != 0) {
      throw new IllegalArgumentException("image " + img.height() + " x " + img.width()
          + " is not a multiple of the patch size " + p);
    }
    int gh = img.height() / p;
    int gw = img.width() / p;
    int plane = img.height() * img.width();
    float[] src = img.chw();
    float[] out = new float[gh * gw * 3 * p * p];
    int o = 0;
    for (int r = 0; r < gh; r++) {
      for (int c = 0; c < gw; c++) {
        for (int py = 0; py < p; py++) {
          int rowBase = (r * p + py) * img.width() + c * p;
          for (int px = 0; px < p; px++) {
            for (int ch = 0; ch < 3; ch++) {
              out[o++] = src[ch * plane + rowBase + px];
            }
          }
        }
      }
    }
    return out;
  }

  /** The reference's extrapolating ids: {@code row * maxPatchesPerSide + col}. */
  public int[] positionIds(int gridH, int gridW) {
    checkGrid(gridH, gridW);
    int[] ids = new int[gridH * gridW];
    for (int r = 0, i = 0; r < gridH; r++) {
      for (int c = 0; c < gridW; c++) {
        ids[i++] = r * maxPatchesPerSide + c;
      }
    }
    return ids;
  }

  /**
   * The reference's interpolating ids: each patch's fractional coordinate k / grid is bucketed into
   * {@code maxPatchesPerSide} equal bins.
   */
  public int[] interpolatedPositionIds(int gridH, int gridW) {
    checkGrid(gridH, gridW);
    int[] rows = buckets(gridH);
    int[] cols = buckets(gridW);
    int[] ids = new int[gridH * gridW];
    for (int r = 0, i = 0; r < gridH; r++) {
      for (int c = 0; c < gridW; c++) {
        ids[i++] = rows[r] * maxPatchesPerSide + cols[c];
      }
    }
    return ids;
  }

  private int[] buckets(int n) {
    int[] out = new int[n];
    for (int k = 0; k < n; k++) {
      // bucketize(k / n, boundaries j / max for j in 1..max-1, right=True) = #boundaries <= k / n
      double frac = (double) (float) ((double) k / n);
      int b = 0;
      for (int j = 1; j < maxPatchesPerSide; j++) {
        if ((double) (float) ((double) j / maxPatchesPerSide) <= frac) {
          b++;
        }
      }
      out[k] = b;
    }
    return out;
  }

  private void checkGrid(int gridH, int gridW) {
    if (gridH > maxPatchesPerSide || gridW > maxPatchesPerSide) {
      throw new IllegalArgumentException("patch grid " + gridH + " x " + gridW + " exceeds "
          + maxPatchesPerSide + " per side");
    }
  }
}
