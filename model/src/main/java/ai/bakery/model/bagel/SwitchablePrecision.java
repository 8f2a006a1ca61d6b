package ai.bakery.model.bagel;

import ai.bakery.model.tensor.Precision;
import ai.djl.ndarray.NDArray;

/** One precision shared by every module of a model and switchable at run time (mixed precision on/off). */
final class SwitchablePrecision implements Precision {
  private volatile Precision delegate;

  SwitchablePrecision(Precision initial) {
    this.delegate = initial;
  }

  void set(Precision p) {
    this.delegate = p;
  }

  Precision get() {
    return delegate;
  }

  @Override
  public NDArray weight(NDArray w) {
    return delegate.weight(w);
  }

  @Override
  public NDArray activation(NDArray x) {
    return delegate.activation(x);
  }

  @Override
  public NDArray full(NDArray x) {
    return delegate.full(x);
  }
}
