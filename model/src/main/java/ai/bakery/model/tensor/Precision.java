package ai.bakery.model.tensor;

import ai.djl.ndarray.NDArray;

/**
 * Compute precision of a forward pass. Master weights stay fp32 in the {@link ParameterStore}; modules pass
 * every weight through {@link #weight} at the point of use and every activation entering a matmul through
 * {@link #activation}, so a mixed-precision policy casts there (autograd carries gradients back to fp32).
 */
public interface Precision {
  NDArray weight(NDArray w);

  NDArray activation(NDArray x);

  /** Back to fp32 where precision needs it (norm statistics, softmax, losses). */
  NDArray full(NDArray x);

  Precision FP32 = new Precision() {
    @Override
    public NDArray weight(NDArray w) {
      return w;
    }

    @Override
    public NDArray activation(NDArray x) {
      return x;
    }

    @Override
    public NDArray full(NDArray x) {
      return x;
    }
  };
}
