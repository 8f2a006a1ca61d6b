package ai.bakery.model.llm;

import ai.bakery.model.config.LlmConfig;
import ai.bakery.model.nn.Init;
import ai.bakery.model.nn.RmsNorm;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.djl.ndarray.NDArray;

/** Qwen2DecoderLayer: every token through the same weights. */
public final class Qwen2DecoderLayer implements DecoderLayer {
  private final Attention attn;
  private final Mlp mlp;
  private final RmsNorm inputNorm;
  private final RmsNorm postNorm;

  Qwen2DecoderLayer(ParameterStore store, String prefix, LlmConfig cfg, Init init, Precision precision) {
    attn = new Attention(store, prefix + ".self_attn", cfg, false, init, precision);
    mlp = new Mlp(store, prefix + ".mlp", cfg, init, precision);
    inputNorm = new RmsNorm(store, prefix + ".input_layernorm", cfg.hiddenSize(), cfg.rmsNormEps(), precision);
    postNorm = new RmsNorm(store, prefix + ".post_attention_layernorm", cfg.hiddenSize(), cfg.rmsNormEps(), precision);
  }

  @Override
  public Attention attention() {
    return attn;
  }

  @Override
  public NDArray forward(NDArray x, PackContext ctx) {
    NDArray h = x.add(attn.forward(inputNorm.forward(x), ctx));
    return h.add(mlp.forward(postNorm.forward(h)));
  }
}
