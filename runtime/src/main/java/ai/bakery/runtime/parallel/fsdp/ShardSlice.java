package ai.bakery.runtime.parallel.fsdp;

import ai.bakery.runtime.parallel.ShardRange;
import ai.djl.ndarray.NDArray;

/**
 * One rank's part of one named tensor: elements {@code range} of the flattened tensor of {@code shape}, held in
 * {@code shard} (fp32, one dimension, {@code range.length()} elements). The array is the rank's live state, not
 * a copy: a checkpoint writer reads it before the next step, a loader writes into it.
 */
public record ShardSlice(String name, long[] shape, ShardRange range, NDArray shard) {
  /** Elements of the whole tensor. */
  public long numel() {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }
}
