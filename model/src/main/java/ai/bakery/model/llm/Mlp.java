package ai.bakery.model.llm;

import ai.bakery.model.config.LlmConfig;
import ai.bakery.model.nn.Activations;
import ai.bakery.model.nn.Init;
import ai.bakery.model.nn.Linear;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.djl.ndarray.NDArray;
import java.util.function.UnaryOperator;

/** Qwen2MLP (SwiGLU): down(act(gate(x)) * up(x)), all three projections without bias. */
public final class Mlp {
  private final Linear gate;
  private final Linear up;
  private final Linear down;
  private final UnaryOperator<NDArray> act;

  public Mlp(ParameterStore store, String prefix, LlmConfig cfg, Init init, Precision precision) {
    int h = cfg.hiddenSize();
    int i = cfg.intermediateSize();
    double std = cfg.initializerRange();
    gate = Linear.normal(store, prefix + ".gate_proj", h, i, false, init, std, precision);
    up = Linear.normal(store, prefix + ".up_proj", h, i, false, init, std, precision);
    down = Linear.normal(store, prefix + ".down_proj", i, h, false, init, std, precision);
    act = Activations.named(cfg.hiddenAct());
  }

  /** @param x (N, hidden) @return (N, hidden) */
  public NDArray forward(NDArray x) {
    return down.forward(act.apply(gate.forward(x)).mul(up.forward(x)));
  }
}
