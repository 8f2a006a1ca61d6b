package ai.bakery.runtime.optim;

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
 * torch.optim.AdamW (amsgrad off, decoupled weight decay) over the parameters of a {@link ParameterStore}.
 * Moments are fp32 tensors owned by this optimizer and created the first time a parameter has a gradient;
 * parameters without a gradient at a step are skipped entirely, as torch does. Updates run in place under
 * no-grad; every temporary lives in a JavaCPP scope closed before {@link #step} returns.
 */
public final class AdamW implements AutoCloseable {
  private final ParameterStore store;
  private final OptimizerConfig config;
  private final NDManager manager;
  private final Map<String, Moments> state = new LinkedHashMap<>();

  /** First and second moments of one parameter and how many updates it has had (for bias correction). */
  private static final class Moments {
    final NDArray expAvg;
    final NDArray expAvgSq;
    long step;

    Moments(NDArray expAvg, NDArray expAvgSq, long step) {
      this.expAvg = expAvg;
      this.expAvgSq = expAvgSq;
      this.step = step;
    }
  }

  public AdamW(ParameterStore store, OptimizerConfig config) {
    this.store = store;
    this.config = config;
    this.manager = store.manager().newSubManager();
  }

  public OptimizerConfig config() {
    return config;
  }

  /** Applies one update with learning rate {@code lr} to every parameter that has a gradient. */
  public void step(double lr) {
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      for (Parameter p : store.all().values()) {
        Tensor grad = Gradients.of(p);
        if (grad == null) {
          continue;
        }
        Moments m = state.computeIfAbsent(p.name(), n -> newMoments(p));
        m.step++;
        update(Torch.view(p.value()), grad, Torch.view(m.expAvg), Torch.view(m.expAvgSq), m.step, lr, config);
      }
    }
  }

  /**
   * One AdamW update of {@code param} in place, the exact sequence of torch's single-tensor AdamW: decay the
   * weight by {@code lr * weight_decay}, update both moments, then step by the bias-corrected ratio. Shared by
   * sharded optimizers that hold only a slice of each tensor. Call under no-grad.
   */
  public static void update(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, long step, double lr,
      OptimizerConfig c) {
    if (c.weightDecay() != 0) {
      param.mul_(new Scalar(1 - lr * c.weightDecay()));
    }
    expAvg.lerp_(grad, new Scalar(1 - c.beta1()));
    expAvgSq.mul_(new Scalar(c.beta2())).addcmul_(grad, grad, new Scalar(1 - c.beta2()));
    double biasCorrection1 = 1 - Math.pow(c.beta1(), step);
    double biasCorrection2 = 1 - Math.pow(c.beta2(), step);
    double stepSize = lr / biasCorrection1;
    Tensor denom = expAvgSq.sqrt().div_(new Scalar(Math.sqrt(biasCorrection2))).add_(new Scalar(c.eps()));
    param.addcdiv_(expAvg, denom, new Scalar(-stepSize));
  }

  private Moments newMoments(Parameter p) {
    NDArray v = p.value();
    return new Moments(manager.zeros(v.getShape(), DataType.FLOAT32, v.getDevice()),
        manager.zeros(v.getShape(), DataType.FLOAT32, v.getDevice()), 0);
  }

  /**
   * The moments as named tensors ({@code <param>.exp_avg}, {@code <param>.exp_avg_sq}) and per-parameter step
   * counts, for a checkpoint. The tensors are this optimizer's own (not copies): write them before the next step.
   */
  public State exportState() {
    Map<String, NDArray> tensors = new LinkedHashMap<>();
    Map<String, Long> steps = new LinkedHashMap<>();
    for (Map.Entry<String, Moments> e : state.entrySet()) {
      tensors.put(e.getKey() + EXP_AVG, e.getValue().expAvg);
      tensors.put(e.getKey() + EXP_AVG_SQ, e.getValue().expAvgSq);
      steps.put(e.getKey(), e.getValue().step);
    }
    return new State(tensors, steps);
  }

  /**
   * Replaces all moments by a checkpoint's (copied into this optimizer's memory). Every named parameter must
   * exist with the moment shapes matching it; the message names the first one that does not.
   */
  public void importState(State saved) {
    Map<String, Moments> loaded = new LinkedHashMap<>();
    try {
      for (Map.Entry<String, Long> e : saved.steps().entrySet()) {
        String name = e.getKey();
        if (!store.contains(name)) {
          throw new IllegalArgumentException("optimizer state names unknown parameter " + name);
        }
        Parameter p = store.get(name);
        Moments m = newMoments(p);
        loaded.put(name, m);
        m.step = e.getValue();
        copyInto(m.expAvg, saved.tensors().get(name + EXP_AVG), name + EXP_AVG);
        copyInto(m.expAvgSq, saved.tensors().get(name + EXP_AVG_SQ), name + EXP_AVG_SQ);
      }
    } catch (RuntimeException ex) {
      loaded.values().forEach(m -> { m.expAvg.close(); m.expAvgSq.close(); });
      throw ex;
    }
    state.values().forEach(m -> { m.expAvg.close(); m.expAvgSq.close(); });
    state.clear();
    state.putAll(loaded);
  }

  private static void copyInto(NDArray target, NDArray source, String key) {
    if (source == null) {
      throw new IllegalArgumentException("optimizer state lacks tensor " + key);
    }
    if (!source.getShape().equals(target.getShape())) {
      throw new IllegalArgumentException("optimizer state " + key + " has shape " + source.getShape()
          + ", the parameter has " + target.getShape());
    }
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      Torch.view(target).copy_(Torch.view(source));
    }
  }

  /** Suffixes of the moment tensors' names in an exported state. */
  public static final String EXP_AVG = ".exp_avg";
  public static final String EXP_AVG_SQ = ".exp_avg_sq";

  /** Optimizer state as checkpoint data: moment tensors by name and each parameter's update count. */
  public record State(Map<String, NDArray> tensors, Map<String, Long> steps) {}

  @Override
  public void close() {
    manager.close();
  }
}
