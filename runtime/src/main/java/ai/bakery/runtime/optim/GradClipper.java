package ai.bakery.runtime.optim;

import ai.bakery.model.tensor.Parameter;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * Global L2 gradient clipping as torch's {@code clip_grad_norm_}: the norm over all gradients together, and when
 * it exceeds {@code max_grad_norm} every gradient is scaled by {@code max / (norm + 1e-6)}. Split into
 * {@link #squaredNorm} and {@link #scale} so that a sharded run can sum the squared norms across ranks between
 * the two.
 */
public final class GradClipper {
  private final double maxNorm;

  /** {@code maxNorm <= 0} measures the norm but never clips. */
  public GradClipper(double maxNorm) {
    this.maxNorm = maxNorm;
  }

  /**
   * Measures the global norm of the gradients of {@code params} and clips them to {@code max_grad_norm}.
   * Returns the norm before clipping; when it is not finite the gradients are left untouched (the caller skips
   * the step).
   */
  public double clip(Iterable<Parameter> params) {
    double norm = Math.sqrt(squaredNorm(params));
    if (Double.isFinite(norm)) {
      double coef = coefficient(norm);
      if (coef < 1.0) {
        scale(params, coef);
      }
    }
    return norm;
  }

  /** The factor torch multiplies the gradients by for a global norm of {@code norm}: at most 1. */
  public double coefficient(double norm) {
    if (maxNorm <= 0) {
      return 1.0;
    }
    return Math.min(1.0, maxNorm / (norm + 1e-6));
  }

  /**
   * Sum over parameters of the squared L2 norm of each gradient, in one device sync. NaN or infinity when any
   * gradient holds one. Parameters without a gradient count as zero.
   */
  public static double squaredNorm(Iterable<Parameter> params) {
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      TensorVector norms = new TensorVector();
      for (Parameter p : params) {
        Tensor g = Gradients.of(p);
        if (g != null) {
          norms.push_back(g.norm());
        }
      }
      if (norms.empty()) {
        return 0.0;
      }
      double n = torch.stack(norms).norm().item_double();
      return n * n;
    }
  }

  /** Multiplies every gradient by {@code factor} in place. */
  public static void scale(Iterable<Parameter> params, double factor) {
    try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
      Scalar s = new Scalar(factor);
      for (Parameter p : params) {
        Tensor g = Gradients.of(p);
        if (g != null) {
          g.mul_(s);
        }
      }
    }
  }
}
