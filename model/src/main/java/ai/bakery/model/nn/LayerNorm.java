package ai.bakery.model.nn;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * Layer normalisation over the last dimension with affine {@code prefix.weight} (ones) and {@code prefix.bias}
 * (zeros), as torch's nn.LayerNorm names them. Statistics are taken in fp32 whatever the compute precision.
 */
public final class LayerNorm {
  private final Parameter weight;
  private final Parameter bias;
  private final int dim;
  private final double eps;
  private final Precision precision;

  public LayerNorm(ParameterStore store, String prefix, int dim, double eps, Precision precision) {
    if (dim <= 0 || !(eps > 0)) {
      throw new IllegalArgumentException(prefix + ": dim " + dim + " and eps " + eps + " must be > 0");
    }
    Shape s = new Shape(dim);
    this.weight = store.create(prefix + ".weight", s, Init.constant(s, 1f));
    this.bias = store.create(prefix + ".bias", s, Init.constant(s, 0f));
    this.dim = dim;
    this.eps = eps;
    this.precision = precision;
  }

  public LayerNorm(ParameterStore store, String prefix, int dim, double eps) {
    this(store, prefix, dim, eps, Precision.FP32);
  }

  /** @param x (..., dim) @return (..., dim) fp32, on x's manager */
  public NDArray forward(NDArray x) {
    long last = x.getShape().get(x.getShape().dimension() - 1);
    if (last != dim) {
      throw new IllegalArgumentException(weight.name() + ": input " + x.getShape() + " does not end in " + dim);
    }
    NDArray xf = precision.full(x);
    // Weights follow the statistics' dtype (fp32 masters, or fp64 when a check computes in double).
    NDArray w = weight.value().getDataType() == xf.getDataType() ? weight.value() : weight.value().toType(xf.getDataType(), false);
    NDArray b = bias.value().getDataType() == xf.getDataType() ? bias.value() : bias.value().toType(xf.getDataType(), false);
    Tensor y;
    try (PointerScope scope = new PointerScope()) {
      y = torch.layer_norm(Torch.view(xf), new long[] {dim}, new TensorOptional(Torch.view(w)),
          new TensorOptional(Torch.view(b)), eps, false);
      y.retainReference(); // outlives the scope; adopt releases it
    } finally {
      if (xf != x) {
        xf.close();
      }
      if (w != weight.value()) {
        w.close();
        b.close();
      }
    }
    return Torch.adopt(y, x.getManager());
  }

  public Parameter weight() {
    return weight;
  }

  public Parameter bias() {
    return bias;
  }
}
