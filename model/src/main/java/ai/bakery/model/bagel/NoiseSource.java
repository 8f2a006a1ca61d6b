package ai.bakery.model.bagel;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Random;

/** Where the flow-matching noise of a step comes from; tests hold it fixed, training draws it fresh. */
@FunctionalInterface
public interface NoiseSource {
  /** @return standard normal noise of {@code shape} in fp32, owned by {@code manager} */
  NDArray sample(NDManager manager, Shape shape);

  /** libtorch's generator on the manager's device (fast; seeded by the engine's seed). */
  static NoiseSource engine() {
    return (m, shape) -> m.randomNormal(shape);
  }

  /** A host stream from one seed: reproducible on any device and thread count, advancing per call. */
  static NoiseSource seeded(long seed) {
    Random rng = new Random(seed);
    return (m, shape) -> m.create(gaussian(rng, shape), shape);
  }

  /** The same noise on every call (for a given shape): holds the target fixed across steps. */
  static NoiseSource fixed(long seed) {
    return (m, shape) -> m.create(gaussian(new Random(seed), shape), shape);
  }

  private static float[] gaussian(Random rng, Shape shape) {
    float[] v = new float[Math.toIntExact(shape.size())];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) rng.nextGaussian();
    }
    return v;
  }
}
