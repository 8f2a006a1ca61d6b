package ai.bakery.model.llm;

import ai.bakery.model.config.LlmConfig;
import ai.bakery.model.nn.Init;
import ai.bakery.model.nn.RmsNorm;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.djl.ndarray.NDArray;

/** Qwen2MoEDecoderLayer: shared attention and norms; generation tokens take a second MLP {@code mlp_moe_gen}. */
public final class Qwen2MoeDecoderLayer implements DecoderLayer {
  private final Attention attn;
  private final Mlp mlp;
  private final Mlp mlpGen;
  private final RmsNorm inputNorm;
  private final RmsNorm postNorm;

  Qwen2MoeDecoderLayer(ParameterStore store, String prefix, LlmConfig cfg, Init init, Precision precision) {
    attn = new Attention(store, prefix + ".self_attn", cfg, false, init, precision);
    mlp = new Mlp(store, prefix + ".mlp", cfg, init, precision);
    mlpGen = new Mlp(store, prefix + ".mlp_moe_gen", cfg, init, precision);
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
    return h.add(ctx.routing().route(postNorm.forward(h), mlp::forward, mlpGen::forward));
  }
}
