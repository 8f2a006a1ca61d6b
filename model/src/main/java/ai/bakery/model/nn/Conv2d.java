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
 * A square-kernel 2-D convolution with {@code prefix.weight} (out, in, k, k) and {@code prefix.bias} (out), as
 * torch's nn.Conv2d names and initialises them (U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in*k*k).
 */
public final class Conv2d {
  private final Parameter weight;
  private final Parameter bias;
  private final int in;
  private final int stride;
  private final int padding;
  private final Precision precision;

  public Conv2d(ParameterStore store, String prefix, int in, int out, int kernel, int stride, int padding,
      Init init, Precision precision) {
    if (in <= 0 || out <= 0 || kernel <= 0 || stride <= 0 || padding < 0) {
      throw new IllegalArgumentException(prefix + ": bad conv geometry in=" + in + " out=" + out + " kernel="
          + kernel + " stride=" + stride + " padding=" + padding);
    }
    Shape ws = new Shape(out, in, kernel, kernel);
    Shape bs = new Shape(out);
    double bound = 1.0 / Math.sqrt((double) in * kernel * kernel);
    this.weight = store.create(prefix + ".weight", ws, init.uniform(ws, bound));
    this.bias = store.create(prefix + ".bias", bs, init.uniform(bs, bound));
    this.in = in;
    this.stride = stride;
    this.padding = padding;
    this.precision = precision;
  }

  /** @param x (B, in, H, W) @return (B, out, H', W'), on x's manager */
  public NDArray forward(NDArray x) {
    if (x.getShape().dimension() != 4 || x.getShape().get(1) != in) {
      throw new IllegalArgumentException(weight.name() + ": input " + x.getShape() + " is not (B, " + in + ", H, W)");
    }
    NDArray xa = precision.activation(x);
    try {
      return Weights.with(precision, weight, w -> Weights.with(precision, bias, b -> {
        Tensor y;
        try (PointerScope scope = new PointerScope()) {
          y = torch.conv2d(Torch.view(xa), Torch.view(w), new TensorOptional(Torch.view(b)),
              new long[] {stride, stride}, new long[] {padding, padding}, new long[] {1, 1}, 1);
          y.retainReference(); // outlives the scope; adopt releases it
        }
        return Torch.adopt(y, x.getManager());
      }));
    } finally {
      if (xa != x) {
        xa.close();
      }
    }
  }

  public Parameter weight() {
    return weight;
  }

  public Parameter bias() {
    return bias;
  }
}
