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
 * Group normalisation of (B, C, ...) over groups of C/groups channels with per-channel affine
 * {@code prefix.weight} (ones) and {@code prefix.bias} (zeros), as torch's nn.GroupNorm. Statistics in fp32.
 */
public final class GroupNorm {
  private final Parameter weight;
  private final Parameter bias;
  private final int groups;
  private final int channels;
  private final double eps;
  private final Precision precision;

  public GroupNorm(ParameterStore store, String prefix, int groups, int channels, double eps, Precision precision) {
    if (groups <= 0 || channels % groups != 0) {
      throw new IllegalArgumentException(prefix + ": " + channels + " channels do not split into " + groups
          + " groups");
    }
    Shape s = new Shape(channels);
    this.weight = store.create(prefix + ".weight", s, Init.constant(s, 1f));
    this.bias = store.create(prefix + ".bias", s, Init.constant(s, 0f));
    this.groups = groups;
    this.channels = channels;
    this.eps = eps;
    this.precision = precision;
  }

  /** @param x (B, C, ...) @return (B, C, ...) fp32, on x's manager */
  public NDArray forward(NDArray x) {
    if (x.getShape().dimension() < 2 || x.getShape().get(1) != channels) {
      throw new IllegalArgumentException(weight.name() + ": input " + x.getShape() + " is not (B, " + channels
          + ", ...)");
    }
    NDArray xf = precision.full(x);
    Tensor y;
    try (PointerScope scope = new PointerScope()) {
      y = torch.group_norm(Torch.view(xf), groups, new TensorOptional(Torch.view(weight.value())),
          new TensorOptional(Torch.view(bias.value())), eps, false);
      y.retainReference(); // outlives the scope; adopt releases it
    } finally {
      if (xf != x) {
        xf.close();
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
