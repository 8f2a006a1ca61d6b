package ai.bakery.actors.flight;

import ai.bakery.actors.job.BatchId;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Packed batches a data shard has made and not yet seen committed, as Arrow IPC stream bytes. A batch stays
 * until the step that trained it commits, so an aborted step's batches can be served again. Bounded: a
 * producer blocks in {@link #put} while it is full, which back-pressures packing.
 */
public final class BatchStore {
  private final int capacity;
  private final Map<BatchId, byte[]> batches = new LinkedHashMap<>();

  public BatchStore(int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("batch store capacity must be >= 1, got " + capacity);
    }
    this.capacity = capacity;
  }

  public synchronized void put(BatchId id, byte[] arrowIpc) throws InterruptedException {
    while (batches.size() >= capacity && !batches.containsKey(id)) {
      wait();
    }
    batches.put(id, arrowIpc);
  }

  public synchronized Optional<byte[]> get(BatchId id) {
    return Optional.ofNullable(batches.get(id));
  }

  /** Drops a batch once its step is committed. */
  public synchronized void release(BatchId id) {
    if (batches.remove(id) != null) {
      notifyAll();
    }
  }

  /** Drops every batch of a shard that stopped: its replacement packs them again (same ids). */
  public synchronized void releaseShard(String shard) {
    if (batches.keySet().removeIf(id -> id.shard().equals(shard))) {
      notifyAll();
    }
  }

  public synchronized int size() {
    return batches.size();
  }
}
