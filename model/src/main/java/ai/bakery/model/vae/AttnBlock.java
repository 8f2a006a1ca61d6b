package ai.bakery.model.vae;

import ai.bakery.model.config.VaeConfig;
import ai.bakery.model.nn.Conv2d;
import ai.bakery.model.nn.GroupNorm;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * Single-head self-attention over all H*W positions of a feature map (the VAE's mid block), with 1x1 conv
 * projections {@code q}, {@code k}, {@code v}, {@code proj_out} and a residual connection.
 */
final class AttnBlock {
  private final GroupNorm norm;
  private final Conv2d q;
  private final Conv2d k;
  private final Conv2d v;
  private final Conv2d projOut;

  AttnBlock(ParameterStore store, String prefix, int channels, Init init, Precision precision) {
    norm = new GroupNorm(store, prefix + ".norm", VaeConfig.NORM_GROUPS, channels, ResnetBlock.EPS, precision);
    q = new Conv2d(store, prefix + ".q", channels, channels, 1, 1, 0, init, precision);
    k = new Conv2d(store, prefix + ".k", channels, channels, 1, 1, 0, init, precision);
    v = new Conv2d(store, prefix + ".v", channels, channels, 1, 1, 0, init, precision);
    projOut = new Conv2d(store, prefix + ".proj_out", channels, channels, 1, 1, 0, init, precision);
  }

  /** @param x (B, C, H, W) @return same shape */
  NDArray forward(NDArray x) {
    Shape s = x.getShape();
    long b = s.get(0);
    long c = s.get(1);
    long hw = s.get(2) * s.get(3);
    NDArray h = norm.forward(x);
    NDArray qs = tokens(q.forward(h), b, c, hw);
    NDArray ks = tokens(k.forward(h), b, c, hw);
    NDArray vs = tokens(v.forward(h), b, c, hw);
    Tensor o;
    try (PointerScope scope = new PointerScope()) {
      o = torch.scaled_dot_product_attention(Torch.view(qs), Torch.view(ks), Torch.view(vs)); // (B, 1, HW, C)
      o.retainReference(); // outlives the scope; adopt releases it
    }
    NDArray a = Torch.adopt(o, x.getManager()).reshape(b, hw, c).transpose(0, 2, 1).reshape(s);
    return x.add(projOut.forward(a));
  }

  /** (B, C, H, W) -> (B, 1, H*W, C) */
  private static NDArray tokens(NDArray t, long b, long c, long hw) {
    return t.reshape(b, c, hw).transpose(0, 2, 1).reshape(b, 1, hw, c);
  }
}
