package ai.bakery.data.shard;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;

/**
 * A rank's exact place in its data (the reference's per-rank {@code data_status}, made exact): per loader
 * worker, per group, the next unit slot and row and the pass; the packer's generator state and the samples it
 * had read but not packed; and which worker delivers the next pack. A pipeline restored from it yields exactly
 * the packs that would have come next. Saved as JSON in checkpoints, one per rank.
 *
 * @param version format version
 * @param rank the rank it belongs to
 * @param worldSize ranks when it was taken
 * @param numWorkers loader workers per rank when it was taken
 * @param groups group names in pipeline order (SampleRef group indexes point into it)
 * @param nextWorker the worker whose pack comes next
 * @param workers each worker's state
 */
public record DataPosition(
    @JsonProperty("version") int version,
    @JsonProperty("rank") int rank,
    @JsonProperty("world_size") int worldSize,
    @JsonProperty("num_workers") int numWorkers,
    @JsonProperty("groups") List<String> groups,
    @JsonProperty("next_worker") int nextWorker,
    @JsonProperty("workers") List<WorkerPosition> workers) {

  public static final int VERSION = 1;
  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  public DataPosition {
    groups = List.copyOf(groups);
    workers = List.copyOf(workers);
    if (workers.size() != numWorkers) {
      throw new IllegalArgumentException("data position lists " + workers.size() + " workers, num_workers is "
          + numWorkers);
    }
  }

  public String toJson() {
    try {
      return JSON.writeValueAsString(this);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("serialising a data position", e);
    }
  }

  public static DataPosition fromJson(String json) {
    try {
      DataPosition p = JSON.readValue(json, DataPosition.class);
      if (p.version() != VERSION) {
        throw new IllegalArgumentException("data position version " + p.version() + " is not " + VERSION);
      }
      return p;
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("not a data position: " + e.getOriginalMessage(), e);
    }
  }

  /** Packs delivered by this rank so far. */
  public long packs() {
    return workers.stream().mapToLong(WorkerPosition::packs).sum();
  }
}
