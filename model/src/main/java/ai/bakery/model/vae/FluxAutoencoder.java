package ai.bakery.model.vae;

import ai.bakery.model.config.VaeConfig;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.djl.ndarray.NDArray;

/**
 * The FLUX autoencoder BAGEL uses for generation latents: {@code encoder.*} and {@code decoder.*} weights
 * named exactly as in FLUX's {@code ae.safetensors} (after {@code prefix}, which may be empty).
 *
 * <p>Latents handed to the LLM are scaled: z' = scale * (z - shift), and {@link #decode} inverts that first.
 * BAGEL keeps it frozen and calls {@link #encode} without gradient recording; every op is differentiable, so
 * inside a {@code GradientCollector} the same code trains it ({@link #posterior} gives the KL term).
 */
public final class FluxAutoencoder {
  private final VaeConfig cfg;
  private final Encoder encoder;
  private final Decoder decoder;

  public FluxAutoencoder(VaeConfig cfg, ParameterStore store, String prefix) {
    this(cfg, store, prefix, Init.forLoading(), Precision.FP32);
  }

  public FluxAutoencoder(VaeConfig cfg, ParameterStore store, String prefix, Init init, Precision precision) {
    this.cfg = cfg;
    this.encoder = new Encoder(cfg, store, VaeNames.join(prefix, "encoder"), init, precision);
    this.decoder = new Decoder(cfg, store, VaeNames.join(prefix, "decoder"), init, precision);
  }

  /** @param images (B, in_channels, H, W), H and W multiples of {@link VaeConfig#downsample()} */
  public DiagonalGaussian posterior(NDArray images) {
    var s = images.getShape();
    int d = cfg.downsample();
    if (s.dimension() != 4 || s.get(1) != cfg.inChannels() || s.get(2) % d != 0 || s.get(3) % d != 0) {
      throw new IllegalArgumentException("vae: images " + s + " must be (B, " + cfg.inChannels()
          + ", H, W) with H and W multiples of " + d);
    }
    return DiagonalGaussian.of(encoder.forward(images));
  }

  /**
   * As the reference's encode: a sample of the posterior (its DiagonalGaussian samples by default), scaled.
   * @return (B, z_channels, H/d, W/d)
   */
  public NDArray encode(NDArray images) {
    return scale(posterior(images).sample());
  }

  /** The posterior mean, scaled: deterministic latents (evaluation, tests). */
  public NDArray encodeMean(NDArray images) {
    return scale(posterior(images).mean());
  }

  /** Scaled latents back to unscaled z: z = z' / scale + shift. */
  public NDArray unscale(NDArray latents) {
    return latents.div(cfg.scaleFactor()).add(cfg.shiftFactor());
  }

  /** Unscaled z to the scaled latents the LLM sees: scale * (z - shift). */
  public NDArray scale(NDArray z) {
    return z.sub(cfg.shiftFactor()).mul(cfg.scaleFactor());
  }

  /** @param latents (B, z_channels, h, w) scaled @return (B, out_ch, h*d, w*d) */
  public NDArray decode(NDArray latents) {
    var s = latents.getShape();
    if (s.dimension() != 4 || s.get(1) != cfg.zChannels()) {
      throw new IllegalArgumentException("vae: latents " + s + " must be (B, " + cfg.zChannels() + ", h, w)");
    }
    return decoder.forward(unscale(latents));
  }

  public VaeConfig config() {
    return cfg;
  }
}
