package ai.bakery.runtime.train;

/**
 * What one optimizer step did.
 *
 * @param step the step index (0-based, as the reference's {@code curr_step})
 * @param ce cross-entropy, normalised as the reference (mean over micro-batches); 0 when the step had none
 * @param mse velocity MSE, normalised as the reference (mean over micro-batches); 0 when the step had none
 * @param lr learning rate the update used
 * @param gradNorm global gradient norm before clipping (NaN/inf when the step was skipped)
 * @param skipped true when the update was dropped because gradients or losses were not finite
 * @param tokens packed tokens of all micro-batches
 * @param sumSquares sum over samples of squared sample length (attention FLOPs)
 * @param samples samples in all micro-batches
 * @param ceTokens CE positions
 * @param mseTokens noised latent tokens
 */
public record StepResult(
    long step,
    double ce,
    double mse,
    double lr,
    double gradNorm,
    boolean skipped,
    long tokens,
    double sumSquares,
    int samples,
    long ceTokens,
    long mseTokens) {}
