package ai.bakery.model.tensor;

import ai.djl.ndarray.NDArray;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * bf16 compute over fp32 master weights, as FSDP's {@code MixedPrecision(param_dtype=bfloat16)} runs BAGEL:
 * weights and matmul inputs are cast to bf16 at the point of use (through JavaCPP, since DJL must never create
 * bf16 itself), while norms' statistics, softmax and losses go back to fp32 through {@link #full}. The casts are
 * autograd ops, so gradients arrive at the fp32 masters in fp32.
 */
public final class BF16Precision implements Precision {
  public static final BF16Precision INSTANCE = new BF16Precision();

  private BF16Precision() {}

  @Override
  public NDArray weight(NDArray w) {
    return cast(w, ScalarType.BFloat16);
  }

  @Override
  public NDArray activation(NDArray x) {
    return cast(x, ScalarType.BFloat16);
  }

  @Override
  public NDArray full(NDArray x) {
    return isBf16(x) ? cast(x, ScalarType.Float) : x;
  }

  /** DJL reports bf16 arrays as UNKNOWN; libtorch knows. */
  public static boolean isBf16(NDArray x) {
    return ScalarTypes.of(Torch.view(x)) == ScalarType.BFloat16;
  }

  /** {@code x} itself when it already has {@code type}, else a cast copy on x's manager (differentiable). */
  public static NDArray cast(NDArray x, ScalarType type) {
    try (PointerScope scope = new PointerScope()) {
      Tensor t = Torch.view(x);
      if (ScalarTypes.of(t) == type) {
        return x;
      }
      return Torch.adopt(t.to(type), x.getManager());
    }
  }

  @Override
  public String toString() {
    return "bf16";
  }
}
