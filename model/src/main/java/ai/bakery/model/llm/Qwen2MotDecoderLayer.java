package ai.bakery.model.llm;

import ai.bakery.model.config.LlmConfig;
import ai.bakery.model.nn.Init;
import ai.bakery.model.nn.RmsNorm;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.djl.ndarray.NDArray;

/**
 * Qwen2MoTDecoderLayer (mixture of transformers): generation tokens use their own copy of every weight of
 * the layer ({@code *_moe_gen}); only the attention over all tokens is shared. With {@code freeze_und} the
 * understanding rows of both residual updates are detached.
 */
public final class Qwen2MotDecoderLayer implements DecoderLayer {
  private final Attention attn;
  private final Mlp mlp;
  private final Mlp mlpGen;
  private final RmsNorm inputNorm;
  private final RmsNorm inputNormGen;
  private final RmsNorm postNorm;
  private final RmsNorm postNormGen;
  private final boolean freezeUnd;

  Qwen2MotDecoderLayer(ParameterStore store, String prefix, LlmConfig cfg, Init init, Precision precision) {
    int h = cfg.hiddenSize();
    double eps = cfg.rmsNormEps();
    attn = new Attention(store, prefix + ".self_attn", cfg, true, init, precision);
    mlp = new Mlp(store, prefix + ".mlp", cfg, init, precision);
    mlpGen = new Mlp(store, prefix + ".mlp_moe_gen", cfg, init, precision);
    inputNorm = new RmsNorm(store, prefix + ".input_layernorm", h, eps, precision);
    inputNormGen = new RmsNorm(store, prefix + ".input_layernorm_moe_gen", h, eps, precision);
    postNorm = new RmsNorm(store, prefix + ".post_attention_layernorm", h, eps, precision);
    postNormGen = new RmsNorm(store, prefix + ".post_attention_layernorm_moe_gen", h, eps, precision);
    freezeUnd = cfg.freezeUnd();
  }

  @Override
  public Attention attention() {
    return attn;
  }

  @Override
  public NDArray forward(NDArray x, PackContext ctx) {
    TokenRouting r = ctx.routing();
    NDArray normed = r.route(x, inputNorm::forward, inputNormGen::forward);
    NDArray h = x.add(attn.forward(normed, ctx)); // attention detaches its und output itself under freeze_und
    NDArray update = r.route(h, rows -> frozen(mlp.forward(postNorm.forward(rows))),
        rows -> mlpGen.forward(postNormGen.forward(rows)));
    return h.add(update);
  }

  private NDArray frozen(NDArray undRows) {
    return freezeUnd ? undRows.stopGradient() : undRows;
  }
}
