package ai.bakery.model.nn;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.Precision;
import ai.djl.ndarray.NDArray;
import java.util.function.Function;

/**
 * Uses a parameter at compute precision. A cast weight is a fresh array on the parameter store's long-lived
 * manager; it is closed right after use (autograd keeps its own reference), so steps do not accumulate casts.
 */
final class Weights {
  private Weights() {}

  static NDArray with(Precision precision, Parameter p, Function<NDArray, NDArray> op) {
    NDArray master = p.value();
    NDArray w = precision.weight(master);
    try {
      return op.apply(w);
    } finally {
      if (w != master) {
        w.close();
      }
    }
  }
}
