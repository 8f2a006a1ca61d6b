package ai.bakery.model.bagel;

import ai.djl.ndarray.NDArray;

/**
 * What the reference forward returns, unreduced: {@code ce} (Nce) cross-entropy per CE position, {@code mse}
 * (Nmse, patch_latent_dim) squared velocity error per noised latent token and channel. Either is null when the
 * pack has no such positions. Token counts are this pack's; {@link BagelLoss} normalises by global counts.
 */
public record BagelOutput(NDArray ce, NDArray mse, int ceTokens, int mseTokens) {}
