package ai.bakery.model.vae;

import ai.bakery.model.config.VaeConfig;
import ai.bakery.model.nn.Activations;
import ai.bakery.model.nn.Conv2d;
import ai.bakery.model.nn.GroupNorm;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.djl.ndarray.NDArray;

/** x + conv2(swish(norm2(conv1(swish(norm1(x)))))), with a 1x1 {@code nin_shortcut} when channels change. */
final class ResnetBlock {
  static final double EPS = 1e-6;

  private final GroupNorm norm1;
  private final Conv2d conv1;
  private final GroupNorm norm2;
  private final Conv2d conv2;
  private final Conv2d shortcut;

  ResnetBlock(ParameterStore store, String prefix, int in, int out, Init init, Precision precision) {
    norm1 = new GroupNorm(store, prefix + ".norm1", VaeConfig.NORM_GROUPS, in, EPS, precision);
    conv1 = new Conv2d(store, prefix + ".conv1", in, out, 3, 1, 1, init, precision);
    norm2 = new GroupNorm(store, prefix + ".norm2", VaeConfig.NORM_GROUPS, out, EPS, precision);
    conv2 = new Conv2d(store, prefix + ".conv2", out, out, 3, 1, 1, init, precision);
    shortcut = in != out ? new Conv2d(store, prefix + ".nin_shortcut", in, out, 1, 1, 0, init, precision) : null;
  }

  /** @param x (B, in, H, W) @return (B, out, H, W) */
  NDArray forward(NDArray x) {
    NDArray h = conv1.forward(Activations.silu(norm1.forward(x)));
    h = conv2.forward(Activations.silu(norm2.forward(h)));
    NDArray skip = shortcut == null ? x : shortcut.forward(x);
    return skip.add(h);
  }
}
