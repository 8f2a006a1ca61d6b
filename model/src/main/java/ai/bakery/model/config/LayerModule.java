package ai.bakery.model.config;

import com.fasterxml.jackson.annotation.JsonValue;

/** The decoder layer class the reference's {@code layer_module} names. */
public enum LayerModule {
  /** Plain Qwen2 layer: every token uses the same weights. */
  QWEN2("Qwen2DecoderLayer"),
  /** Shared attention and norms; generation tokens use a second MLP ({@code mlp_moe_gen}). */
  QWEN2_MOE("Qwen2MoEDecoderLayer"),
  /** Mixture of transformers: generation tokens use a full second copy of every layer weight. */
  QWEN2_MOT("Qwen2MoTDecoderLayer");

  private final String className;

  LayerModule(String className) {
    this.className = className;
  }

  @JsonValue
  public String className() {
    return className;
  }

  /** Whether tokens are routed to und/gen experts (the reference tests {@code "Mo" in layer_module}). */
  public boolean routesTokens() {
    return this != QWEN2;
  }

  public static LayerModule parse(String name, String source) {
    for (LayerModule m : values()) {
      if (m.className.equals(name)) {
        return m;
      }
    }
    throw new ConfigException(source + ": field 'layer_module' is '" + name
        + "', expected Qwen2DecoderLayer, Qwen2MoEDecoderLayer or Qwen2MoTDecoderLayer");
  }
}
