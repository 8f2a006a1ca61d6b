package ai.bakery.model.llm;

import ai.bakery.model.attention.NsaAttention;
import ai.bakery.model.attention.NsaConfig;
import ai.bakery.model.config.LlmConfig;
import ai.bakery.model.nn.Init;
import ai.bakery.model.nn.Linear;
import ai.bakery.model.nn.RmsNorm;
import ai.bakery.model.nn.Rope;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.djl.ndarray.NDArray;
import java.util.function.UnaryOperator;

/**
 * Packed self-attention of one decoder layer (the reference's PackedAttention / PackedAttentionMoT): q/k/v
 * projections with bias, per-head RMSNorm on q and k when {@code qk_norm}, RoPE at the packed positions, one
 * joint attention over all tokens of each sample, o projection without bias.
 *
 * <p>With {@code mixtureOfTransformers}, understanding tokens use the base weights and generation tokens the
 * {@code *_moe_gen} copies at every projection and QK norm; the attention itself stays joint. With
 * {@code freeze_und}, the understanding branch's q, k, v and output are detached, as the reference does.
 *
 * <p>With {@link #enableNsa} the layer's attention core is its own {@link NsaAttention} (parameters of this
 * layer, gates from the same normed hidden states the projections read, for und and gen tokens alike) instead
 * of the pack's shared kernel.
 */
public final class Attention {
  private final Expert und;
  private final Expert gen;
  private final Rope rope;
  private final int heads;
  private final int kvHeads;
  private final int headDim;
  private final boolean freezeUnd;
  private final int hidden;
  private final String prefix;
  private NsaAttention nsa;

  /** One set of attention weights: the base ones or the {@code _moe_gen} copies. */
  private static final class Expert {
    final Linear q;
    final Linear k;
    final Linear v;
    final Linear o;
    final RmsNorm qNorm;
    final RmsNorm kNorm;

    Expert(Linear q, Linear k, Linear v, Linear o, RmsNorm qNorm, RmsNorm kNorm) {
      this.q = q;
      this.k = k;
      this.v = v;
      this.o = o;
      this.qNorm = qNorm;
      this.kNorm = kNorm;
    }
  }

  public Attention(ParameterStore store, String prefix, LlmConfig cfg, boolean mixtureOfTransformers, Init init,
      Precision precision) {
    heads = cfg.numAttentionHeads();
    kvHeads = cfg.numKeyValueHeads();
    headDim = cfg.headDim();
    freezeUnd = cfg.freezeUnd() && mixtureOfTransformers;
    rope = new Rope(headDim, cfg.ropeTheta());
    this.prefix = prefix;
    hidden = cfg.hiddenSize();
    int h = hidden;
    double std = cfg.initializerRange();
    double eps = cfg.rmsNormEps();
    // Registration follows the reference's module order (projections, then norms, then the gen copies).
    Linear q = Linear.normal(store, prefix + ".q_proj", h, heads * headDim, true, init, std, precision);
    Linear k = Linear.normal(store, prefix + ".k_proj", h, kvHeads * headDim, true, init, std, precision);
    Linear v = Linear.normal(store, prefix + ".v_proj", h, kvHeads * headDim, true, init, std, precision);
    Linear o = Linear.normal(store, prefix + ".o_proj", heads * headDim, h, false, init, std, precision);
    RmsNorm qn = cfg.qkNorm() ? new RmsNorm(store, prefix + ".q_norm", headDim, eps, precision) : null;
    RmsNorm kn = cfg.qkNorm() ? new RmsNorm(store, prefix + ".k_norm", headDim, eps, precision) : null;
    und = new Expert(q, k, v, o, qn, kn);
    if (mixtureOfTransformers) {
      RmsNorm qng = cfg.qkNorm() ? new RmsNorm(store, prefix + ".q_norm_moe_gen", headDim, eps, precision) : null;
      RmsNorm kng = cfg.qkNorm() ? new RmsNorm(store, prefix + ".k_norm_moe_gen", headDim, eps, precision) : null;
      gen = new Expert(
          Linear.normal(store, prefix + ".q_proj_moe_gen", h, heads * headDim, true, init, std, precision),
          Linear.normal(store, prefix + ".k_proj_moe_gen", h, kvHeads * headDim, true, init, std, precision),
          Linear.normal(store, prefix + ".v_proj_moe_gen", h, kvHeads * headDim, true, init, std, precision),
          Linear.normal(store, prefix + ".o_proj_moe_gen", heads * headDim, h, false, init, std, precision),
          qng, kng);
    } else {
      gen = null;
    }
  }

  /** @param x (T, hidden) normed hidden states of the pack @return (T, hidden) */
  public NDArray forward(NDArray x, PackContext ctx) {
    TokenRouting r = ctx.routing();
    NDArray q;
    NDArray k;
    NDArray v;
    if (gen == null) {
      q = project(und.q, und.qNorm, x, heads);
      k = project(und.k, und.kNorm, x, kvHeads);
      v = project(und.v, null, x, kvHeads);
    } else {
      NDArray xu = r.numUnd() == 0 ? null : r.und(x);
      NDArray xg = r.numGen() == 0 ? null : r.gen(x);
      q = r.merge(frozen(project(und.q, und.qNorm, xu, heads)), project(gen.q, gen.qNorm, xg, heads));
      k = r.merge(frozen(project(und.k, und.kNorm, xu, kvHeads)), project(gen.k, gen.kNorm, xg, kvHeads));
      v = r.merge(frozen(project(und.v, null, xu, kvHeads)), project(gen.v, null, xg, kvHeads));
    }
    NDArray kNoRope = k; // NSA pools keys before RoPE
    q = rope.apply(q, ctx.rope()); // (T, Hq, D)
    k = rope.apply(k, ctx.rope()); // (T, Hkv, D)
    NDArray attn = nsa == null
        ? ctx.kernel().attend(q, k, v, ctx.layout())
        : nsa.attend(q, k, v, kNoRope, x, ctx.layout());
    NDArray flat = attn.reshape(attn.getShape().get(0), (long) heads * headDim); // (T, Hq*D)
    if (gen == null) {
      return und.o.forward(flat);
    }
    UnaryOperator<NDArray> undOut = rows -> frozen(und.o.forward(rows));
    return r.route(flat, undOut, gen.o::forward);
  }

  /**
   * Makes this layer's attention Native Sparse Attention, registering its parameters under this layer's
   * {@code self_attn} prefix (call before loading weights so a checkpoint's NSA weights load too).
   */
  public NsaAttention enableNsa(ParameterStore store, NsaConfig cfg, Init init, Precision precision) {
    if (nsa != null) {
      throw new IllegalStateException(prefix + ": NSA is already enabled");
    }
    nsa = new NsaAttention(store, prefix, hidden, heads, kvHeads, headDim, cfg, init, precision);
    return nsa;
  }

  /** This layer's NSA, or null when it uses the pack's kernel. */
  public NsaAttention nsa() {
    return nsa;
  }

  /** Projects rows to (N, heads, D) and applies the per-head norm; null rows give null. */
  private NDArray project(Linear proj, RmsNorm norm, NDArray rows, int nHeads) {
    if (rows == null) {
      return null;
    }
    NDArray y = proj.forward(rows);
    y = y.reshape(y.getShape().get(0), nHeads, headDim);
    return norm == null ? y : norm.forward(y);
  }

  private NDArray frozen(NDArray undRows) {
    return freezeUnd && undRows != null ? undRows.stopGradient() : undRows;
  }
}
