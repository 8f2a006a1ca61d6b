package ai.bakery.model.nn;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * Qwen2RMSNorm: y = w * x / sqrt(mean(x^2) + eps) over the last axis, statistics in full precision. Registers
 * {@code prefix.weight} (dim), initialised to ones.
 */
public final class RmsNorm {
  private final Parameter weight;
  private final double eps;
  private final int dim;
  private final Precision precision;

  public RmsNorm(ParameterStore store, String prefix, int dim, double eps, Precision precision) {
    if (!(eps > 0)) {
      throw new IllegalArgumentException(prefix + ": eps must be > 0, got " + eps);
    }
    this.weight = store.create(prefix + ".weight", new Shape(dim), Init.constant(new Shape(dim), 1f));
    this.eps = eps;
    this.dim = dim;
    this.precision = precision;
  }

  public RmsNorm(ParameterStore store, String prefix, int dim, double eps) {
    this(store, prefix, dim, eps, Precision.FP32);
  }

  /** @param x (..., dim) @return (..., dim) */
  public NDArray forward(NDArray x) {
    if (x.getShape().get(x.getShape().dimension() - 1) != dim) {
      throw new IllegalArgumentException(weight.name() + ": input " + x.getShape() + " does not end in " + dim);
    }
    NDArray xf = precision.full(x);
    NDArray meanSquare = xf.square().mean(new int[] {-1}, true);
    NDArray normed = xf.div(meanSquare.add(eps).sqrt());
    return Weights.with(precision, weight, normed::mul);
  }

  public Parameter weight() {
    return weight;
  }
}
