package ai.bakery.model.nn;

import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import java.util.List;
import java.util.function.UnaryOperator;
import org.bytedeco.pytorch.global.torch;

/** The activations the reference names in its configs (HF ACT2FN keys), computed by libtorch's own kernels. */
public final class Activations {
  /** The names {@link #named} accepts. */
  public static final List<String> KNOWN = List.of("silu", "swish", "gelu", "gelu_pytorch_tanh", "gelu_new");

  private Activations() {}

  /** x * sigmoid(x) */
  public static NDArray silu(NDArray x) {
    return Torch.adopt(torch.silu(Torch.view(x)), x.getManager());
  }

  /** The tanh approximation of GELU (HF "gelu_pytorch_tanh" and "gelu_new"). */
  public static NDArray geluTanh(NDArray x) {
    return Torch.adopt(torch.gelu(Torch.view(x), "tanh"), x.getManager());
  }

  /** Exact GELU, x * Phi(x). */
  public static NDArray gelu(NDArray x) {
    return Torch.adopt(torch.gelu(Torch.view(x)), x.getManager());
  }

  /** The activation a config names, or an exception listing the known names. */
  public static UnaryOperator<NDArray> named(String name) {
    return switch (name) {
      case "silu", "swish" -> Activations::silu;
      case "gelu" -> Activations::gelu;
      case "gelu_pytorch_tanh", "gelu_new" -> Activations::geluTanh;
      default -> throw new IllegalArgumentException("unknown activation '" + name + "'; known: " + KNOWN);
    };
  }
}
