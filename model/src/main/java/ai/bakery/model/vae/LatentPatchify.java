package ai.bakery.model.vae;

import ai.djl.ndarray.NDArray;

/**
 * Latent grids to LLM tokens and back, in the reference's "chpwq->hwpqc" order: token (i, j) holds the p x p
 * cell at rows i*p.., cols j*p.., flattened as (row in cell, col in cell, channel).
 */
public final class LatentPatchify {
  private LatentPatchify() {}

  /** @param latent (C, H, W) with H, W multiples of p @return (H/p * W/p, p*p*C) */
  public static NDArray patchify(NDArray latent, int p) {
    var s = latent.getShape();
    if (s.dimension() != 3 || s.get(1) % p != 0 || s.get(2) % p != 0) {
      throw new IllegalArgumentException("patchify: latent " + s + " is not (C, H, W) with H, W multiples of " + p);
    }
    return patchify(latent, p, (int) (s.get(1) / p), (int) (s.get(2) / p));
  }

  /**
   * The top-left (h*p, w*p) of a padded latent, as the reference crops each image out of its padded batch.
   * @param latent (C, H', W') with H' >= h*p, W' >= w*p @return (h*w, p*p*C)
   */
  public static NDArray patchify(NDArray latent, int p, int h, int w) {
    var s = latent.getShape();
    if (s.dimension() != 3 || s.get(1) < (long) h * p || s.get(2) < (long) w * p) {
      throw new IllegalArgumentException("patchify: latent " + s + " is smaller than " + h + "x" + w + " cells of " + p);
    }
    long c = s.get(0);
    NDArray crop = s.get(1) == (long) h * p && s.get(2) == (long) w * p
        ? latent
        : latent.get(":, :" + (h * p) + ", :" + (w * p));
    return crop.reshape(c, h, p, w, p).transpose(1, 3, 2, 4, 0).reshape((long) h * w, (long) p * p * c);
  }

  /** Inverse of {@link #patchify}: (h*w, p*p*C) -> (C, h*p, w*p). */
  public static NDArray unpatchify(NDArray tokens, int h, int w, int p, int channels) {
    var s = tokens.getShape();
    if (s.dimension() != 2 || s.get(0) != (long) h * w || s.get(1) != (long) p * p * channels) {
      throw new IllegalArgumentException("unpatchify: tokens " + s + " are not (" + h * w + ", " + p * p * channels + ")");
    }
    return tokens.reshape(h, w, p, p, channels).transpose(4, 0, 2, 1, 3).reshape(channels, (long) h * p, (long) w * p);
  }
}
