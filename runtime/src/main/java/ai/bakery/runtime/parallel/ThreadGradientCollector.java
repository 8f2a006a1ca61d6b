package ai.bakery.runtime.parallel;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;

/**
 * DJL's PyTorch gradient collector without its JVM-wide "one collector at a time" flag: grad mode in libtorch
 * is per thread, so ranks running as threads of one JVM can each collect at once. Otherwise the same: grad
 * mode on while open (restored on close), {@link #backward} seeds the target's gradient with ones.
 */
public final class ThreadGradientCollector implements GradientCollector {
  private final boolean previous;

  public ThreadGradientCollector() {
    previous = JniUtils.isGradMode();
    JniUtils.setGradMode(true);
  }

  @Override
  public void backward(NDArray target) {
    try (NDArray ones = target.onesLike()) {
      JniUtils.backward((PtNDArray) target, (PtNDArray) ones, false, false);
    }
  }

  /** Not used by the trainer (gradients are cleared per parameter); zeroes nothing. */
  @Override
  public void zeroGradients() {
    throw new UnsupportedOperationException("clear gradients with ai.bakery.runtime.optim.Gradients.clear");
  }

  @Override
  public void close() {
    if (!previous) {
      JniUtils.setGradMode(false);
    }
  }
}
