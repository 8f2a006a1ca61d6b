package ai.bakery.runtime.infer;

/**
 * How an image is sampled: the reference's {@code gen_image} arguments. The reference's defaults are for
 * 1024-pixel images after long training (50 steps, shift 3, text CFG 4); {@link #TINY} scales them for the tiny
 * preset's 64-pixel pictures: fewer steps, no timestep shift (its 256 latent tokens are what the model trained
 * with at shift 1), the same guidance interval and scales.
 *
 * @param steps Euler steps (the schedule has {@code steps} points, {@code steps - 1} updates), >= 2
 * @param timestepShift s in t' = s t / (1 + (s - 1) t) applied to the linear 1..0 schedule
 * @param cfgText text guidance scale (1 = off): v = v_no_text + cfgText (v - v_no_text)
 * @param cfgImage image guidance scale for edits (1 = off): applied after text guidance, against the
 *     prediction without the input image
 * @param cfgIntervalLow guidance applies while low < t <= high
 * @param cfgIntervalHigh see {@code cfgIntervalLow}
 * @param cfgRenormMin lower clamp of the renormalisation factor (1 disables shrinking, 0 allows any)
 * @param cfgRenormType "global" (one norm over all tokens), "channel" (per token) or "text_channel" (per token,
 *     text guidance only, before image guidance)
 * @param seed seed of the initial noise
 * @param size generated image side in pixels (rounded down to the VAE transform's stride)
 */
public record SamplingOptions(int steps, double timestepShift, double cfgText, double cfgImage, double cfgIntervalLow,
    double cfgIntervalHigh, double cfgRenormMin, String cfgRenormType, long seed, int size) {

  public static final SamplingOptions TINY = new SamplingOptions(24, 1.0, 4.0, 1.5, 0.4, 1.0, 0.0, "global", 0, 64);

  public SamplingOptions {
    if (steps < 2) {
      throw new IllegalArgumentException("steps: " + steps + " (need at least 2)");
    }
    if (!(timestepShift > 0) || !Double.isFinite(timestepShift)) {
      throw new IllegalArgumentException("timestep shift must be finite and > 0, got " + timestepShift);
    }
    if (!(cfgText >= 0) || !(cfgImage >= 0)) {
      throw new IllegalArgumentException("cfg scales must be >= 0, got text " + cfgText + " image " + cfgImage);
    }
    if (!(cfgIntervalLow <= cfgIntervalHigh)) {
      throw new IllegalArgumentException("cfg interval [" + cfgIntervalLow + ", " + cfgIntervalHigh + "] is empty");
    }
    if (!"global".equals(cfgRenormType) && !"channel".equals(cfgRenormType) && !"text_channel".equals(cfgRenormType)) {
      throw new IllegalArgumentException("cfg renorm type '" + cfgRenormType + "' (global, channel or text_channel)");
    }
    if (size < 16) {
      throw new IllegalArgumentException("size: " + size + " pixels (need at least 16)");
    }
  }

  public SamplingOptions withSteps(int n) {
    return new SamplingOptions(n, timestepShift, cfgText, cfgImage, cfgIntervalLow, cfgIntervalHigh, cfgRenormMin,
        cfgRenormType, seed, size);
  }

  public SamplingOptions withCfg(double text, double image) {
    return new SamplingOptions(steps, timestepShift, text, image, cfgIntervalLow, cfgIntervalHigh, cfgRenormMin,
        cfgRenormType, seed, size);
  }

  public SamplingOptions withSeed(long s) {
    return new SamplingOptions(steps, timestepShift, cfgText, cfgImage, cfgIntervalLow, cfgIntervalHigh, cfgRenormMin,
        cfgRenormType, s, size);
  }

  public SamplingOptions withSize(int px) {
    return new SamplingOptions(steps, timestepShift, cfgText, cfgImage, cfgIntervalLow, cfgIntervalHigh, cfgRenormMin,
        cfgRenormType, seed, px);
  }

  public SamplingOptions withShift(double s) {
    return new SamplingOptions(steps, s, cfgText, cfgImage, cfgIntervalLow, cfgIntervalHigh, cfgRenormMin,
        cfgRenormType, seed, size);
  }

  /**
   * The reference's schedule: {@code steps} points linear from 1 to 0, each shifted; returns them (the last
   * is 0).
   */
  public double[] schedule() {
    double[] t = new double[steps];
    for (int i = 0; i < steps; i++) {
      double u = 1.0 - (double) i / (steps - 1);
      t[i] = timestepShift * u / (1 + (timestepShift - 1) * u);
    }
    return t;
  }

  /** Whether guidance applies at flow time t. */
  public boolean guides(double t) {
    return t > cfgIntervalLow && t <= cfgIntervalHigh;
  }
}
