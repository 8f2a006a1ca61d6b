package ai.bakery.model.bagel;

import ai.bakery.model.nn.Activations;
import ai.bakery.model.nn.Init;
import ai.bakery.model.nn.Linear;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * DiT's timestep embedder: a 256-wide sinusoidal code of t (cos half, then sin half, frequencies
 * exp(-ln(10000) i / 128)) through Linear, SiLU, Linear ({@code prefix.mlp.0}, {@code prefix.mlp.2}).
 */
public final class TimestepEmbedder {
  public static final int FREQUENCY_DIM = 256;
  private static final double MAX_PERIOD = 10000.0;

  private final Linear fc1;
  private final Linear fc2;
  private final float[] freqs;

  public TimestepEmbedder(ParameterStore store, String prefix, int hidden, Init init, Precision precision) {
    fc1 = new Linear(store, prefix + ".mlp.0", FREQUENCY_DIM, hidden, true, init, precision);
    fc2 = new Linear(store, prefix + ".mlp.2", hidden, hidden, true, init, precision);
    int half = FREQUENCY_DIM / 2;
    freqs = new float[half];
    for (int i = 0; i < half; i++) {
      freqs[i] = (float) Math.exp(-Math.log(MAX_PERIOD) * i / half);
    }
  }

  /** @param t (N) timesteps in [0, 1] @return (N, 256) [cos(t f), sin(t f)] in fp32 */
  public NDArray frequencyCode(NDArray t) {
    long n = t.getShape().size();
    NDArray args = t.toType(DataType.FLOAT32, false).reshape(n, 1)
        .mul(t.getManager().create(freqs, new Shape(1, freqs.length)));
    return args.cos().concat(args.sin(), 1);
  }

  /** @param t (N) timesteps @return (N, hidden) */
  public NDArray forward(NDArray t) {
    return fc2.forward(Activations.silu(fc1.forward(frequencyCode(t))));
  }
}
