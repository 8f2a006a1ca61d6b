package ai.bakery.runtime.optim;

import ai.bakery.model.config.ConfigException;
import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * AdamW and gradient clipping settings, named and defaulted as the reference's TrainingArguments.
 *
 * @param lr peak learning rate after warm-up
 * @param beta1 AdamW first-moment decay
 * @param beta2 AdamW second-moment decay
 * @param eps AdamW denominator epsilon (the reference uses 1e-15, far below torch's 1e-8)
 * @param weightDecay decoupled weight decay (the reference hard-codes 0)
 * @param maxGradNorm global L2 norm the gradients are clipped to; {@code <= 0} disables clipping
 */
public record OptimizerConfig(
    @JsonProperty("lr") double lr,
    @JsonProperty("beta1") double beta1,
    @JsonProperty("beta2") double beta2,
    @JsonProperty("eps") double eps,
    @JsonProperty("weight_decay") double weightDecay,
    @JsonProperty("max_grad_norm") double maxGradNorm) {

  public static final OptimizerConfig DEFAULTS = new OptimizerConfig(1e-4, 0.9, 0.95, 1e-15, 0.0, 1.0);

  @JsonCreator
  static OptimizerConfig fromJson(
      @JsonProperty("lr") Double lr,
      @JsonProperty("beta1") Double beta1,
      @JsonProperty("beta2") Double beta2,
      @JsonProperty("eps") Double eps,
      @JsonProperty("weight_decay") Double weightDecay,
      @JsonProperty("max_grad_norm") Double maxGradNorm) {
    return new OptimizerConfig(
        lr == null ? DEFAULTS.lr : lr,
        beta1 == null ? DEFAULTS.beta1 : beta1,
        beta2 == null ? DEFAULTS.beta2 : beta2,
        eps == null ? DEFAULTS.eps : eps,
        weightDecay == null ? DEFAULTS.weightDecay : weightDecay,
        maxGradNorm == null ? DEFAULTS.maxGradNorm : maxGradNorm);
  }

  public OptimizerConfig {
    if (!(lr > 0) || !Double.isFinite(lr)) {
      throw new ConfigException("optimizer: lr must be finite and > 0, got " + lr);
    }
    if (!(beta1 >= 0 && beta1 < 1)) {
      throw new ConfigException("optimizer: beta1 must be in [0, 1), got " + beta1);
    }
    if (!(beta2 >= 0 && beta2 < 1)) {
      throw new ConfigException("optimizer: beta2 must be in [0, 1), got " + beta2);
    }
    if (!(eps >= 0) || !Double.isFinite(eps)) {
      throw new ConfigException("optimizer: eps must be finite and >= 0, got " + eps);
    }
    if (!(weightDecay >= 0) || !Double.isFinite(weightDecay)) {
      throw new ConfigException("optimizer: weight_decay must be finite and >= 0, got " + weightDecay);
    }
    if (Double.isNaN(maxGradNorm) || Double.isInfinite(maxGradNorm)) {
      throw new ConfigException("optimizer: max_grad_norm must be finite (<= 0 disables clipping), got "
          + maxGradNorm);
    }
  }

  public OptimizerConfig withLr(double newLr) {
    return new OptimizerConfig(newLr, beta1, beta2, eps, weightDecay, maxGradNorm);
  }
}
