package ai.bakery.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Random;
import java.util.function.Function;

/**
 * Where initial weight values come from. Values are drawn on the host from one seeded {@link Random}, in
 * registration order, so a model built twice from the same seed is bit-identical whatever the thread count.
 * {@link #forLoading()} skips drawing (zeros) when a checkpoint will overwrite every value anyway.
 */
public final class Init {
  private final Random rng;

  private Init(Random rng) {
    this.rng = rng;
  }

  public static Init seeded(long seed) {
    return new Init(new Random(seed));
  }

  /** Every random initialiser yields zeros: for weights that a checkpoint load replaces right after. */
  public static Init forLoading() {
    return new Init(null);
  }

  public boolean draws() {
    return rng != null;
  }

  /** U(-bound, bound), as torch's kaiming_uniform(a=sqrt(5)) reduces to for nn.Linear weights and biases. */
  public Function<NDManager, NDArray> uniform(Shape shape, double bound) {
    float[] v = new float[Math.toIntExact(shape.size())];
    if (rng != null) {
      for (int i = 0; i < v.length; i++) {
        v[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
      }
    }
    return m -> m.create(v, shape);
  }

  /** N(0, std^2), as HF's {@code _init_weights} uses for Qwen2 linear and embedding weights. */
  public Function<NDManager, NDArray> normal(Shape shape, double std) {
    float[] v = new float[Math.toIntExact(shape.size())];
    if (rng != null) {
      for (int i = 0; i < v.length; i++) {
        v[i] = (float) (rng.nextGaussian() * std);
      }
    }
    return m -> m.create(v, shape);
  }

  public static Function<NDManager, NDArray> constant(Shape shape, float value) {
    return m -> m.full(shape, value);
  }

  /** Fixed values computed by the caller (sin-cos tables). */
  public static Function<NDManager, NDArray> values(Shape shape, float[] values) {
    if (values.length != shape.size()) {
      throw new IllegalArgumentException(values.length + " values for shape " + shape);
    }
    return m -> m.create(values, shape);
  }
}
