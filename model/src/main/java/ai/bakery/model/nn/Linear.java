package ai.bakery.model.nn;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.bakery.model.tensor.Bf16Gemm;
import ai.bakery.model.tensor.ScalarTypes;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * y = x W^T + b, registering {@code prefix.weight} (out, in) and, with bias, {@code prefix.bias} (out) exactly
 * as torch's nn.Linear names and lays them out.
 */
public final class Linear {
  private final Parameter weight;
  private final Parameter bias;
  private final Precision precision;
  private final int in;
  private final int out;

  /** torch nn.Linear's default init: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)). */
  public Linear(ParameterStore store, String prefix, int in, int out, boolean bias, Init init, Precision precision) {
    this(store, prefix, in, out, bias, init, precision, Double.NaN);
  }

  public Linear(ParameterStore store, String prefix, int in, int out, boolean bias, Init init) {
    this(store, prefix, in, out, bias, init, Precision.FP32);
  }

  private Linear(ParameterStore store, String prefix, int in, int out, boolean hasBias, Init init,
      Precision precision, double normalStd) {
    if (in <= 0 || out <= 0) {
      throw new IllegalArgumentException(prefix + ": in " + in + " and out " + out + " must be > 0");
    }
    this.in = in;
    this.out = out;
    this.precision = precision;
    Shape ws = new Shape(out, in);
    Shape bs = new Shape(out);
    double bound = 1.0 / Math.sqrt(in);
    boolean normal = !Double.isNaN(normalStd);
    this.weight = store.create(prefix + ".weight", ws, normal ? init.normal(ws, normalStd) : init.uniform(ws, bound));
    this.bias = hasBias
        ? store.create(prefix + ".bias", bs, normal ? Init.constant(bs, 0f) : init.uniform(bs, bound))
        : null;
  }

  /** HF's Qwen2 {@code _init_weights}: weight ~ N(0, std^2), bias zero. */
  public static Linear normal(ParameterStore store, String prefix, int in, int out, boolean bias, Init init,
      double std, Precision precision) {
    return new Linear(store, prefix, in, out, bias, init, precision, std);
  }

  /** Zero weight and bias, as BAGEL's llm2vae starts. */
  public static Linear zeros(ParameterStore store, String prefix, int in, int out, boolean bias, Precision precision) {
    return new Linear(store, prefix, in, out, bias, Init.forLoading(), precision, 0.0);
  }

  /** @param x (..., in) @return (..., out), on x's manager */
  public NDArray forward(NDArray x) {
    if (x.getShape().get(x.getShape().dimension() - 1) != in) {
      throw new IllegalArgumentException(weight.name() + ": input " + x.getShape() + " does not end in " + in);
    }
    NDArray xa = precision.activation(x);
    try {
      return Weights.with(precision, weight, w -> bias == null
          ? linear(xa, w, null, x.getManager())
          : Weights.with(precision, bias, b -> linear(xa, w, b, x.getManager())));
    } finally {
      if (xa != x) {
        xa.close();
      }
    }
  }

  /** x W^T with a weight owned elsewhere (a tied lm_head reads the embedding table). @param x (..., in) */
  public static NDArray project(NDArray x, Parameter weight, Precision precision) {
    NDArray xa = precision.activation(x);
    try {
      return Weights.with(precision, weight, w -> linear(xa, w, null, x.getManager()));
    } finally {
      if (xa != x) {
        xa.close();
      }
    }
  }

  /**
   * torch.linear, except that a bf16 product on a CPU without bf16 GEMM instructions runs as an fp32 GEMM of
   * the same bf16 values, rounded back to bf16 (see {@link Bf16Gemm}): libtorch's generic bf16 loop is 6-60x
   * slower than its fp32 BLAS GEMM there. The casts are autograd ops, so gradients follow the same route.
   */
  static NDArray linear(NDArray x, NDArray w, NDArray b, NDManager manager) {
    return linear(x, w, b, manager, !Bf16Gemm.isNative());
  }

  /** @param bf16ViaFp32 take the fp32 route when x is bf16 */
  static NDArray linear(NDArray x, NDArray w, NDArray b, NDManager manager, boolean bf16ViaFp32) {
    try (PointerScope scope = new PointerScope()) {
      Tensor tx = Torch.view(x);
      Tensor tw = Torch.view(w);
      Tensor tb = b == null ? null : Torch.view(b);
      boolean viaFp32 = bf16ViaFp32 && ScalarTypes.of(tx) == ScalarType.BFloat16;
      if (viaFp32) {
        tx = tx.to(ScalarType.Float);
        tw = tw.to(ScalarType.Float);
        tb = tb == null ? null : tb.to(ScalarType.Float);
      }
      Tensor y = tb == null ? torch.linear(tx, tw) : torch.linear(tx, tw, tb);
      return Torch.adopt(viaFp32 ? y.to(ScalarType.BFloat16) : y, manager);
    }
  }

  public Parameter weight() {
    return weight;
  }

  /** The bias, or null when the layer has none. */
  public Parameter bias() {
    return bias;
  }

  public int in() {
    return in;
  }

  public int out() {
    return out;
  }
}
