package ai.bakery.model.vit;

import ai.bakery.model.attention.AttentionKernel;
import ai.bakery.model.attention.PackLayout;
import ai.bakery.model.config.VitConfig;
import ai.bakery.model.nn.Activations;
import ai.bakery.model.nn.Init;
import ai.bakery.model.nn.LayerNorm;
import ai.bakery.model.nn.Linear;
import ai.bakery.model.nn.Rope;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import java.util.function.UnaryOperator;

/**
 * One pre-norm SigLIP block: x + attn(ln1(x)), then + mlp(ln2(x)). Weight names under {@code prefix} follow
 * the reference ({@code self_attn.q_proj}, ..., {@code layer_norm1}, {@code mlp.fc1}, {@code layer_norm2}).
 */
final class SiglipEncoderLayer {
  private final LayerNorm norm1;
  private final LayerNorm norm2;
  private final Linear q;
  private final Linear k;
  private final Linear v;
  private final Linear out;
  private final Linear fc1;
  private final Linear fc2;
  private final UnaryOperator<NDArray> act;
  private final int heads;
  private final int headDim;

  SiglipEncoderLayer(VitConfig cfg, ParameterStore store, String prefix, Init init, Precision precision) {
    int h = cfg.hiddenSize();
    norm1 = new LayerNorm(store, prefix + ".layer_norm1", h, cfg.layerNormEps(), precision);
    q = new Linear(store, prefix + ".self_attn.q_proj", h, h, true, init, precision);
    k = new Linear(store, prefix + ".self_attn.k_proj", h, h, true, init, precision);
    v = new Linear(store, prefix + ".self_attn.v_proj", h, h, true, init, precision);
    out = new Linear(store, prefix + ".self_attn.out_proj", h, h, true, init, precision);
    norm2 = new LayerNorm(store, prefix + ".layer_norm2", h, cfg.layerNormEps(), precision);
    fc1 = new Linear(store, prefix + ".mlp.fc1", h, cfg.intermediateSize(), true, init, precision);
    fc2 = new Linear(store, prefix + ".mlp.fc2", cfg.intermediateSize(), h, true, init, precision);
    act = Activations.named(cfg.hiddenAct());
    heads = cfg.numAttentionHeads();
    headDim = cfg.headDim();
  }

  /**
   * @param x (N, hidden) tokens of every image in the pack
   * @param rows/cols 2-D rope tables (per token) or null when the tower uses learned positions
   */
  NDArray forward(NDArray x, PackLayout images, AttentionKernel kernel, Rope rope, Rope.Table rows, Rope.Table cols) {
    long n = x.getShape().get(0);
    NDArray h = norm1.forward(x);
    NDArray qs = q.forward(h).reshape(n, heads, headDim); // (N, H, D)
    NDArray ks = k.forward(h).reshape(n, heads, headDim);
    NDArray vs = v.forward(h).reshape(n, heads, headDim);
    if (rope != null) {
      qs = rotate2d(qs, rope, rows, cols);
      ks = rotate2d(ks, rope, rows, cols);
    }
    NDArray attn = kernel.attend(qs, ks, vs, images).reshape(n, (long) heads * headDim);
    x = x.add(out.forward(attn));
    NDArray m = fc2.forward(act.apply(fc1.forward(norm2.forward(x))));
    return x.add(m);
  }

  /** First half of each head rotates by the patch row, second half by the column (the reference's 2-D RoPE). */
  private NDArray rotate2d(NDArray t, Rope rope, Rope.Table rows, Rope.Table cols) {
    NDList halves = t.split(2, 2);
    return rope.apply(halves.get(0), rows).concat(rope.apply(halves.get(1), cols), 2);
  }
}
