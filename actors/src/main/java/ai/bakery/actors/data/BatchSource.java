package ai.bakery.actors.data;

import java.util.Optional;

/**
 * A data shard's stream of packed batches, deterministic from its position: restored to the same position
 * it yields the same batches. The runtime backs it with the data pipeline and the Arrow form of packed
 * batches.
 */
public interface BatchSource extends AutoCloseable {
  /** The next packed batch as Arrow IPC stream bytes, or empty when the shard's data is done. */
  Optional<byte[]> next() throws Exception;

  /** Opaque position right after the last batch returned (JSON in practice). */
  String position();

  @Override
  void close();

  /** Opens a shard's source at a position ("" = its start). */
  interface Factory {
    BatchSource open(String shard, String position) throws Exception;
  }
}
