package ai.bakery.data.video;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Which frames of a video to keep, as the reference's frame sampler picks them: draw a frame count in
 * [min, max], split the video into that many equal intervals and take one frame from each (a random one
 * for {@code rand}, the middle for {@code middle}); pad with the last frame when the video is shorter.
 */
public final class FrameIndices {
  private FrameIndices() {}

  /** Draws the frame count, then the indices, for a video of {@code numFrames} frames. */
  public static int[] sample(FrameSamplerConfig cfg, int numFrames, SplittableRandom rng) {
    int want = cfg.minNumFrames() + rng.nextInt(cfg.maxNumFrames() - cfg.minNumFrames() + 1);
    return indices(want, numFrames, cfg.sample(), rng);
  }

  /**
   * The reference's {@code get_frame_indices} for {@code rand} / {@code middle}.
   *
   * @param want frames wanted
   * @param vlen frames in the video (>= 1)
   */
  public static int[] indices(int want, int vlen, String mode, SplittableRandom rng) {
    if (vlen < 1) {
      throw new IllegalArgumentException("video has no frames");
    }
    int acc = Math.min(want, vlen);
    // numpy linspace(0, vlen, acc + 1).astype(int): i * step, the last point exactly vlen.
    double step = (double) vlen / acc;
    int[] bounds = new int[acc + 1];
    for (int i = 0; i < acc; i++) {
      bounds[i] = (int) (i * step);
    }
    bounds[acc] = vlen;
    int[] out = new int[acc];
    boolean ok = true;
    for (int i = 0; i < acc && ok; i++) {
      int lo = bounds[i];
      int hi = bounds[i + 1] - 1; // the reference's range end, itself excluded when drawing
      if (mode.equals("middle")) {
        out[i] = (lo + hi) / 2;
      } else if (hi > lo) {
        out[i] = lo + rng.nextInt(hi - lo);
      } else {
        ok = false;
      }
    }
    if (!ok) {
      // an interval of one frame: the reference falls back to a sorted random subset
      int[] perm = new int[vlen];
      for (int i = 0; i < vlen; i++) {
        perm[i] = i;
      }
      for (int i = vlen - 1; i > 0; i--) {
        int j = rng.nextInt(i + 1);
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
      }
      out = Arrays.copyOf(perm, acc);
      Arrays.sort(out);
    }
    if (out.length < want) {
      int[] padded = Arrays.copyOf(out, want);
      Arrays.fill(padded, out.length, want, out[out.length - 1]);
      out = padded;
    }
    return out;
  }
}
