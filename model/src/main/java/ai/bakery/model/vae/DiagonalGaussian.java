package ai.bakery.model.vae;

import ai.djl.ndarray.NDArray;

/**
 * The encoder's posterior N(mean, exp(logvar)) per latent element, from moments split along channels (first
 * half mean, second half log-variance), in unscaled latent space.
 */
public record DiagonalGaussian(NDArray mean, NDArray logvar) {
  /** @param moments (B, 2*z, h, w) */
  public static DiagonalGaussian of(NDArray moments) {
    long c = moments.getShape().get(1);
    if (c % 2 != 0) {
      throw new IllegalArgumentException("moments " + moments.getShape() + " do not split into mean and logvar");
    }
    var halves = moments.split(2, 1);
    return new DiagonalGaussian(halves.get(0), halves.get(1));
  }

  public NDArray std() {
    return logvar.mul(0.5).exp();
  }

  /** mean + std * noise with noise ~ N(0, 1) drawn on mean's manager (reparameterised, so gradients flow). */
  public NDArray sample() {
    return sample(mean.getManager().randomNormal(mean.getShape()));
  }

  /** mean + std * noise with caller-supplied noise of mean's shape. */
  public NDArray sample(NDArray noise) {
    if (!noise.getShape().equals(mean.getShape())) {
      throw new IllegalArgumentException("noise " + noise.getShape() + " does not match latents " + mean.getShape());
    }
    return mean.add(std().mul(noise));
  }

  /** KL(q || N(0, 1)) per sample, summed over latent elements: 0.5 * sum(mean^2 + var - 1 - logvar). (B) */
  public NDArray kl() {
    NDArray perElem = mean.square().add(logvar.exp()).sub(1).sub(logvar).mul(0.5);
    return perElem.reshape(perElem.getShape().get(0), -1).sum(new int[] {1});
  }
}
