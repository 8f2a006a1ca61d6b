package ai.bakery.runtime.optim;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.Torch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

/**
 * Reads and clears autograd gradients through JavaCPP views. DJL's {@code getGradient()} allocates a fresh
 * handle on the parameter's long-lived manager at every call, so the runtime never uses it.
 */
public final class Gradients {
  private Gradients() {}

  /**
   * The gradient of {@code p} as a no-copy view, or {@code null} when backward has not produced one (frozen,
   * or unused by this step's forward). Valid until the gradient is cleared.
   */
  public static Tensor of(Parameter p) {
    Tensor g = Torch.view(p.value()).grad();
    return g.defined() ? g : null;
  }

  /**
   * Drops the gradient of every parameter (torch's {@code zero_grad(set_to_none=True)}): the memory is freed
   * and a parameter that the next forward does not use gets no update, as in torch.
   */
  public static void clear(Iterable<Parameter> params) {
    try (PointerScope scope = new PointerScope()) {
      Tensor undefined = new Tensor();
      for (Parameter p : params) {
        Tensor grad = Torch.view(p.value()).mutable_grad();
        if (grad.defined()) {
          grad.put(undefined);
        }
      }
    }
  }
}
