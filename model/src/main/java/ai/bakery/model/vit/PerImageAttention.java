package ai.bakery.model.vit;

import ai.bakery.model.attention.AttentionKernel;
import ai.bakery.model.attention.AttnMode;
import ai.bakery.model.attention.PackLayout;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRef;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * Bidirectional attention inside each image of a pack and never across images (the reference's varlen
 * flash attention with cu_seqlens, causal=False): one unmasked fused SDPA call per image.
 */
final class PerImageAttention implements AttentionKernel {
  @Override
  public NDArray attend(NDArray q, NDArray k, NDArray v, PackLayout layout) {
    for (AttnMode mode : layout.modes()) {
      if (mode != AttnMode.FULL) {
        throw new IllegalArgumentException("ViT attention is full within each image; got split mode " + mode);
      }
    }
    Tensor out;
    try (PointerScope scope = new PointerScope()) {
      Tensor tq = Torch.view(q);
      Tensor tk = Torch.view(k);
      Tensor tv = Torch.view(v);
      TensorVector outs = new TensorVector();
      int start = 0;
      for (int len : layout.sampleLens()) {
        if (len > 0) {
          Tensor o = torch.scaled_dot_product_attention(heads(tq, start, len), heads(tk, start, len),
              heads(tv, start, len), new TensorOptional(), 0.0, false, new DoubleOptional(), false);
          outs.push_back(o.squeeze(0).transpose(0, 1)); // (len, H, D)
        }
        start += len;
      }
      out = outs.size() == 1 ? outs.get(0).contiguous() : torch.cat(new TensorArrayRef(outs), 0);
      out.retainReference(); // outlives the scope; adopt releases it
    }
    return Torch.adopt(out, q.getManager());
  }

  /** Rows [start, start + len) of (T, H, D) as (1, H, len, D). */
  private static Tensor heads(Tensor t, int start, int len) {
    return t.narrow(0, start, len).transpose(0, 1).unsqueeze(0);
  }
}
