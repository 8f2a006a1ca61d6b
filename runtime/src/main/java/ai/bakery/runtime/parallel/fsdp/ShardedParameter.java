package ai.bakery.runtime.parallel.fsdp;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.runtime.parallel.ShardRange;

/**
 * Where one parameter lives in its unit's flat shard: this rank holds {@code range} of the flattened parameter at
 * {@code [offset, offset + range.length())} of the unit's buffers. Every rank reserves {@code chunk} elements for
 * it (the tail rank's extra ones stay zero) so that one all-gather of the unit's buffer rebuilds every parameter.
 */
record ShardedParameter(Parameter parameter, long[] shape, long numel, ShardRange range, long chunk, long offset) {
  String name() {
    return parameter.name();
  }

  static ShardedParameter of(Parameter p, int rank, int world, long offset) {
    long[] shape = p.value().getShape().getShape();
    long numel = p.value().getShape().size();
    return new ShardedParameter(p, shape, numel, ShardRange.of(numel, rank, world), ShardRange.chunk(numel, world),
        offset);
  }
}
