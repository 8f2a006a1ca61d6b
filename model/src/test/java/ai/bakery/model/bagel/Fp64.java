package ai.bakery.model.bagel;

import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import org.bytedeco.pytorch.global.torch;

/**
 * Computes in float64 from fp32 master weights, so finite differences resolve gradients to ~1e-9. Casts go
 * through libtorch's {@code to} (differentiable): DJL's toType does not carry autograd.
 */
final class Fp64 implements Precision {
  @Override
  public NDArray weight(NDArray w) {
    return toDouble(w);
  }

  @Override
  public NDArray activation(NDArray x) {
    return toDouble(x);
  }

  @Override
  public NDArray full(NDArray x) {
    return toDouble(x);
  }

  private static NDArray toDouble(NDArray x) {
    if (x.getDataType() == DataType.FLOAT64) {
      return x;
    }
    return Torch.adopt(Torch.view(x).to(torch.ScalarType.Double), x.getManager());
  }
}
