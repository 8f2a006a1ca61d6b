package ai.bakery.runtime.checkpoint;

import ai.bakery.runtime.parallel.ShardRange;
import ai.djl.ndarray.NDArray;
import java.util.Arrays;

/**
 * One rank's part of one named tensor, as handed to a sharded save: the elements {@code range} of the flattened
 * full tensor of {@code shape}, read from {@code source} starting at flat element {@code sourceOffset}.
 *
 * <p>Under FULL_SHARD the source is the rank's own flat slice (offset 0, possibly padded past the range's
 * length); under plain data parallel it is the full tensor every rank holds (offset {@code range.start()}). Either
 * way only {@code range.length()} elements are read, and the array is read when the snapshot is taken, not later.
 *
 * @param name the checkpoint key within its group (the reference's parameter name, or {@code <param>.exp_avg})
 * @param shape the full (unsharded) shape
 * @param range {@code ShardRange.of(numel(shape), rank, world)}
 * @param source the array holding the elements (any device; float or integer type)
 * @param sourceOffset the flat index in {@code source} of the range's first element
 */
public record ShardedTensor(String name, long[] shape, ShardRange range, NDArray source, long sourceOffset) {
  public ShardedTensor {
    if (name == null || name.isEmpty()) {
      throw new IllegalArgumentException("a sharded tensor needs a name");
    }
    shape = shape.clone();
    long numel = numel(shape);
    if (range.end() > numel) {
      throw new IllegalArgumentException(name + ": range [" + range.start() + ", " + range.end() + ") exceeds the "
          + numel + " elements of shape " + Arrays.toString(shape));
    }
    long available = source.getShape().size();
    if (sourceOffset < 0 || sourceOffset + range.length() > available) {
      throw new IllegalArgumentException(name + ": the source holds " + available + " elements, the slice needs ["
          + sourceOffset + ", " + (sourceOffset + range.length()) + ")");
    }
  }

  /** The rank's part of a tensor it holds in full (data parallel). */
  public static ShardedTensor ofFull(String name, NDArray full, int rank, int world) {
    long[] shape = full.getShape().getShape();
    ShardRange r = ShardRange.of(numel(shape), rank, world);
    return new ShardedTensor(name, shape, r, full, r.start());
  }

  /** The rank's part of a tensor of {@code shape} of which it holds only its flat slice (FULL_SHARD). */
  public static ShardedTensor ofSlice(String name, long[] shape, NDArray flatSlice, int rank, int world) {
    return new ShardedTensor(name, shape, ShardRange.of(numel(shape), rank, world), flatSlice, 0);
  }

  /** The rank's parts of named tensors it holds in full (a model's, an EMA's or an optimizer's state dict). */
  public static java.util.List<ShardedTensor> allOfFull(java.util.Map<String, NDArray> named, int rank, int world) {
    java.util.List<ShardedTensor> out = new java.util.ArrayList<>();
    named.forEach((name, value) -> out.add(ofFull(name, value, rank, world)));
    return out;
  }

  public static long numel(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }
}
