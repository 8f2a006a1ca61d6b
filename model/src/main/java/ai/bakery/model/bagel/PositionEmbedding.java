package ai.bakery.model.bagel;

import ai.bakery.model.nn.Init;
import ai.bakery.model.nn.Rows;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * A fixed 2D sin-cos table ({@code prefix.pos_embed}, (side^2, hidden)) indexed by row * side + col, as
 * BAGEL's latent_pos_embed and vit_pos_embed. Registered so it travels with the model, but never trained, and
 * checkpoints leave it out (the reference drops these on load: its size follows max_latent_size).
 *
 * <p>Row r = i * side + j gets [sincos(j) | sincos(i)], each half [sin(p w) | cos(p w)] with
 * w_k = 10000^(-k / (hidden/4)) (the reference's meshgrid puts the column coordinate first).
 */
public final class PositionEmbedding {
  /** Suffix of every fixed table's name. */
  public static final String SUFFIX = ".pos_embed";

  private final Parameter table;
  private final int side;

  public PositionEmbedding(ParameterStore store, String prefix, int side, int hidden) {
    this.side = side;
    Shape shape = new Shape((long) side * side, hidden);
    this.table = store.create(prefix + SUFFIX, shape, Init.values(shape, sinCos2d(hidden, side)));
    table.setTrainable(false);
  }

  /** Whether a parameter name is one of these fixed tables (loaders and checkpoints skip them). */
  public static boolean isFixedTable(String name) {
    return name.endsWith("pos_embed" + SUFFIX);
  }

  /** @param positionIds (N) row * side + col @return (N, hidden), no gradient */
  public NDArray forward(NDArray positionIds) {
    return Rows.select(table.value(), positionIds, positionIds.getManager());
  }

  public Parameter table() {
    return table;
  }

  public int side() {
    return side;
  }

  /** The (side^2 x hidden) table, row-major. */
  static float[] sinCos2d(int hidden, int side) {
    if (hidden % 4 != 0) {
      throw new IllegalArgumentException("2D sin-cos embedding needs hidden % 4 == 0, got " + hidden);
    }
    int quarter = hidden / 4;
    double[] omega = new double[quarter];
    for (int k = 0; k < quarter; k++) {
      omega[k] = 1.0 / Math.pow(10000.0, k / (double) quarter);
    }
    float[] out = new float[side * side * hidden];
    for (int i = 0; i < side; i++) {
      for (int j = 0; j < side; j++) {
        int base = (i * side + j) * hidden;
        for (int k = 0; k < quarter; k++) {
          out[base + k] = (float) Math.sin(j * omega[k]);
          out[base + quarter + k] = (float) Math.cos(j * omega[k]);
          out[base + 2 * quarter + k] = (float) Math.sin(i * omega[k]);
          out[base + 3 * quarter + k] = (float) Math.cos(i * omega[k]);
        }
      }
    }
    return out;
  }
}
