package ai.bakery.model.bagel;

import ai.bakery.model.nn.Activations;
import ai.bakery.model.nn.Init;
import ai.bakery.model.nn.Linear;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.djl.ndarray.NDArray;
import java.util.function.UnaryOperator;

/** ViT features to LLM width: fc2(act(fc1(x))) ({@code prefix.fc1}, {@code prefix.fc2}). */
public final class MlpConnector {
  private final Linear fc1;
  private final Linear fc2;
  private final UnaryOperator<NDArray> act;

  public MlpConnector(ParameterStore store, String prefix, int in, int out, String act, Init init,
      Precision precision) {
    this.act = Activations.named(act);
    fc1 = new Linear(store, prefix + ".fc1", in, out, true, init, precision);
    fc2 = new Linear(store, prefix + ".fc2", out, out, true, init, precision);
  }

  /** @param x (N, in) @return (N, out) */
  public NDArray forward(NDArray x) {
    return fc2.forward(act.apply(fc1.forward(x)));
  }
}
