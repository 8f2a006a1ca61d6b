package ai.bakery.model.attention;

import ai.bakery.model.tensor.Bf16Gemm;
import ai.bakery.model.tensor.ScalarTypes;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.LayoutOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRef;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Varlen attention through libtorch's fused {@code scaled_dot_product_attention}, one call per
 * {@link AttentionBlock}: a sample of causal text is one {@code is_causal} call, a full or noise split one
 * unmasked call over its visible keys, and only a causal split after a prefix (or a split after a hidden
 * noise split) gets a boolean mask, sized to its own rows times its keys. GQA runs natively on CUDA
 * ({@code enable_gqa}); on CPU the kv heads are repeated once per pack, because there {@code enable_gqa}
 * leaves the flash kernel for a much slower path.
 */
public final class SdpaAttention implements AttentionKernel {
  @Override
  public NDArray attend(NDArray q, NDArray k, NDArray v, PackLayout layout) {
    checkShapes(q, k, v, layout);
    boolean gqa = q.getShape().get(1) != k.getShape().get(1);
    List<AttentionBlock> blocks = AttentionBlock.plan(layout, q.getShape().get(0));
    try (PointerScope scope = new PointerScope()) {
      Tensor tq = Torch.view(q);
      Tensor tk = Torch.view(k);
      Tensor tv = Torch.view(v);
      // Under bf16 compute, q and k leave their fp32 norms while v comes straight from a bf16 matmul.
      ScalarType common = commonType(tq, tk, tv);
      if (common == ScalarType.BFloat16 && !tq.is_cuda() && !Bf16Gemm.isNative()) {
        common = ScalarType.Float; // the CPU flash kernel's bf16 GEMMs take a generic loop there (see Bf16Gemm)
      }
      tq = tq.to(common);
      tk = tk.to(common);
      tv = tv.to(common);
      // libtorch's CPU flash kernel has no GQA: enable_gqa falls back to the math path, ~20x slower. Repeating
      // the kv heads once per pack (the size of q) keeps every block on the flash kernel.
      boolean nativeGqa = gqa && tq.is_cuda();
      if (gqa && !nativeGqa) {
        tk = repeatHeads(tk, q.getShape().get(1));
        tv = repeatHeads(tv, q.getShape().get(1));
      }
      TensorVector outs = new TensorVector();
      for (AttentionBlock b : blocks) {
        Tensor qb = heads(tq, b.qStart(), b.rows()); // (1, Hq, rows, D)
        Tensor kb = heads(tk, b.kStart(), b.keys()); // (1, Hkv, keys, D)
        Tensor vb = heads(tv, b.kStart(), b.keys());
        Tensor o;
        if (b.isSelfCausal()) {
          o = torch.scaled_dot_product_attention(qb, kb, vb, new TensorOptional(), 0.0, true, new DoubleOptional(), nativeGqa);
        } else if (b.isDense()) {
          o = torch.scaled_dot_product_attention(qb, kb, vb, new TensorOptional(), 0.0, false, new DoubleOptional(), nativeGqa);
        } else {
          o = torch.scaled_dot_product_attention(qb, kb, vb, new TensorOptional(mask(tq, b)), 0.0, false,
              new DoubleOptional(), nativeGqa);
        }
        outs.push_back(o.squeeze(0).transpose(0, 1)); // (rows, Hq, D)
      }
      Tensor out = outs.size() == 1 ? outs.get(0).contiguous() : torch.cat(new TensorArrayRef(outs), 0);
      return Torch.adopt(out, q.getManager());
    }
  }

  /** The lowest-precision float type among the inputs: attention runs at the compute precision. */
  static ScalarType commonType(Tensor... ts) {
    ScalarType best = ScalarTypes.of(ts[0]);
    for (Tensor t : ts) {
      ScalarType s = ScalarTypes.of(t);
      if (s == ScalarType.BFloat16 || (s == ScalarType.Half && best != ScalarType.BFloat16)
          || (s == ScalarType.Float && best == ScalarType.Double)) {
        best = s;
      }
    }
    return best;
  }

  /** (T, Hkv, D) -> (T, Hq, D), query head h reading kv head h / (Hq / Hkv). */
  private static Tensor repeatHeads(Tensor t, long hq) {
    long n = t.size(0);
    long hkv = t.size(1);
    long d = t.size(2);
    return t.unsqueeze(2).expand(n, hkv, hq / hkv, d).reshape(n, hq, d);
  }

  /** Rows {@code [start, start + len)} of a (T, H, D) tensor as a (1, H, len, D) view. */
  private static Tensor heads(Tensor t, int start, int len) {
    return t.narrow(0, start, len).transpose(0, 1).unsqueeze(0);
  }

  /** The (rows, keys) boolean mask of one block; true = may attend. */
  static Tensor mask(Tensor like, AttentionBlock b) {
    Tensor m = like.new_ones(new long[] {b.rows(), b.keys()}, new ScalarTypeOptional(torch.ScalarType.Bool),
        new LayoutOptional(), new DeviceOptional(), new BoolOptional());
    if (b.causalOffset() >= 0) {
      m = m.tril(b.causalOffset());
    }
    for (int[] h : b.hidden()) {
      m.narrow(1, h[0] - b.kStart(), h[1] - h[0]).fill_(new Scalar(0));
    }
    return m;
  }

  static void checkShapes(NDArray q, NDArray k, NDArray v, PackLayout layout) {
    if (q.getShape().dimension() != 3 || k.getShape().dimension() != 3 || !k.getShape().equals(v.getShape())) {
      throw new IllegalArgumentException("attention wants q (T, Hq, D) and k, v (T, Hkv, D); got q "
          + q.getShape() + ", k " + k.getShape() + ", v " + v.getShape());
    }
    long t = q.getShape().get(0);
    if (t > layout.totalLength() || k.getShape().get(0) != t) {
      throw new IllegalArgumentException("packed length " + t + " (k: " + k.getShape().get(0)
          + ") does not match sample_lens total " + layout.totalLength());
    }
    long hq = q.getShape().get(1);
    long hkv = k.getShape().get(1);
    if (hq % hkv != 0 || q.getShape().get(2) != k.getShape().get(2)) {
      throw new IllegalArgumentException("query heads " + hq + " must be a multiple of kv heads " + hkv
          + " with equal head dims (q " + q.getShape() + ", k " + k.getShape() + ")");
    }
  }
}
