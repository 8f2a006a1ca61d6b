package ai.bakery.model.llm;

import ai.bakery.model.config.LlmConfig;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.djl.ndarray.NDArray;

/** One pre-norm transformer block over a packed sequence; {@link #create} picks the config's layer_module. */
public interface DecoderLayer {
  /** @param x (T, hidden) residual stream @return (T, hidden) */
  NDArray forward(NDArray x, PackContext ctx);

  /** The layer's self-attention (shared by its und and gen tokens). */
  Attention attention();

  static DecoderLayer create(ParameterStore store, String prefix, LlmConfig cfg, Init init, Precision precision) {
    return switch (cfg.layerModule()) {
      case QWEN2 -> new Qwen2DecoderLayer(store, prefix, cfg, init, precision);
      case QWEN2_MOE -> new Qwen2MoeDecoderLayer(store, prefix, cfg, init, precision);
      case QWEN2_MOT -> new Qwen2MotDecoderLayer(store, prefix, cfg, init, precision);
    };
  }
}
