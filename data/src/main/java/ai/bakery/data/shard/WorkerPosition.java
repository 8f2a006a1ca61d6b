package ai.bakery.data.shard;

import ai.bakery.data.pack.PackerState;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Map;

/**
 * One loader worker's state between packs.
 *
 * @param groups read cursor per group name
 * @param packer the packer's generator and held samples
 * @param packs packs this worker has produced
 */
public record WorkerPosition(@JsonProperty("groups") Map<String, GroupCursor> groups,
    @JsonProperty("packer") PackerState packer, @JsonProperty("packs") long packs) {
  public WorkerPosition {
    groups = Map.copyOf(groups);
  }
}
