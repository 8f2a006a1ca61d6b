package ai.bakery.runtime.train;

import ai.bakery.model.config.ConfigException;
import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Exponential moving average of the trainable weights (the reference's {@code ema}).
 *
 * @param ema decay per optimizer step: {@code ema = ema * decay + weight * (1 - decay)}
 */
public record EmaConfig(@JsonProperty("ema") double ema) {

  public static final EmaConfig DEFAULTS = new EmaConfig(0.9999);

  @JsonCreator(mode = JsonCreator.Mode.PROPERTIES)
  static EmaConfig fromJson(@JsonProperty("ema") Double ema) {
    return new EmaConfig(ema == null ? DEFAULTS.ema : ema);
  }

  public EmaConfig {
    if (!(ema >= 0 && ema <= 1)) {
      throw new ConfigException("ema: ema (decay) must be in [0, 1], got " + ema);
    }
  }
}
