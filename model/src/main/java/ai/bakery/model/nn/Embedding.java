package ai.bakery.model.nn;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** A lookup table {@code prefix.weight} (num, dim); rows are gathered with autograd into the ids' manager. */
public final class Embedding {
  private final Parameter weight;
  private final Precision precision;
  private final int num;

  public Embedding(ParameterStore store, String prefix, int num, int dim, Init init, double std, Precision precision) {
    Shape s = new Shape(num, dim);
    this.weight = store.create(prefix + ".weight", s, init.normal(s, std));
    this.precision = precision;
    this.num = num;
  }

  /** @param ids (N) int64 in [0, num) @return (N, dim) */
  public NDArray forward(NDArray ids) {
    return Weights.with(precision, weight, w -> Rows.select(w, ids, ids.getManager()));
  }

  public Parameter weight() {
    return weight;
  }

  public int num() {
    return num;
  }
}
