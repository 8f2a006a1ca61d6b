package ai.bakery.runtime.train;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

/**
 * Exponential moving average of the trainable weights: {@code ema = ema * decay + w * (1 - decay)} after every
 * optimizer step (the reference's {@code fsdp_ema_update}). Only trainable weights get a shadow copy; frozen
 * weights never change, so their EMA is the weight itself and {@link #stateDict} hands those out directly.
 * That keeps one extra copy of the trainable weights per process instead of the reference's full model copy.
 */
public final class Ema implements AutoCloseable {
  private final ParameterStore store;
  private final double decay;
  private final NDManager manager;
  private final Map<String, NDArray> shadow = new LinkedHashMap<>();

  /** Starts the average at the current weights of every trainable parameter. */
  public Ema(ParameterStore store, double decay) {
    this.store = store;
    this.decay = decay;
    this.manager = store.manager().newSubManager();
    // Copy into arrays this manager allocates: Torch.adopt inside a PointerScope double-frees.
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      for (Parameter p : store.trainable()) {
        NDArray copy = manager.zeros(p.value().getShape(), DataType.FLOAT32, p.value().getDevice());
        Torch.view(copy).copy_(Torch.view(p.value()));
        shadow.put(p.name(), copy);
      }
    }
  }

  public double decay() {
    return decay;
  }

  /** Moves every averaged weight towards its parameter's current value. */
  public void update() {
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      Scalar keep = new Scalar(decay);
      Scalar take = new Scalar(1 - decay);
      for (Map.Entry<String, NDArray> e : shadow.entrySet()) {
        Tensor w = Torch.view(store.get(e.getKey()).value());
        Torch.view(e.getValue()).mul_(keep).add_(w, take);
      }
    }
  }

  /**
   * The averaged model as named tensors in the store's order: the shadow copy for averaged weights, the
   * weight itself for the rest. Not copies: write them out before the next update.
   */
  public Map<String, NDArray> stateDict() {
    Map<String, NDArray> out = new LinkedHashMap<>();
    for (Parameter p : store.all().values()) {
      NDArray s = shadow.get(p.name());
      out.put(p.name(), s != null ? s : p.value());
    }
    return out;
  }

  /** The averaged value of one parameter. */
  public NDArray get(String name) {
    NDArray s = shadow.get(name);
    return s != null ? s : store.get(name).value();
  }

  /**
   * Sets the averaged weights from a checkpoint's EMA tensors. Averaged weights the map lacks keep their
   * current value; names that are not averaged here are ignored.
   */
  public void load(Map<String, NDArray> tensors) {
    for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
      set(e.getKey(), e.getValue());
    }
  }

  /** Sets one averaged weight; returns false (and does nothing) when {@code name} is not averaged here. */
  public boolean set(String name, NDArray value) {
    NDArray target = shadow.get(name);
    if (target == null) {
      return false;
    }
    if (!value.getShape().equals(target.getShape())) {
      throw new IllegalArgumentException("ema tensor " + name + " has shape " + value.getShape()
          + ", the parameter has " + target.getShape());
    }
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      Torch.view(target).copy_(Torch.view(value));
    }
    return true;
  }

  /** Whether {@code name} has its own averaged copy (it is trainable). */
  public boolean tracks(String name) {
    return shadow.containsKey(name);
  }

  /** Restarts the average at the current weights (after the model was loaded from elsewhere). */
  public void resetToWeights() {
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      for (Map.Entry<String, NDArray> e : shadow.entrySet()) {
        Torch.view(e.getValue()).copy_(Torch.view(store.get(e.getKey()).value()));
      }
    }
  }

  @Override
  public void close() {
    manager.close();
  }
}
