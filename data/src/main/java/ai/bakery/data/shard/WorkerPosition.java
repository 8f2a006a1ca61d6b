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
 * @param live read position per live group name (absent for static-only pipelines)
 */
public record WorkerPosition(@JsonProperty("groups") Map<String, GroupCursor> groups,
    @JsonProperty("packer") PackerState packer, @JsonProperty("packs") long packs,
    @JsonProperty("live") @com.fasterxml.jackson.annotation.JsonInclude(
        com.fasterxml.jackson.annotation.JsonInclude.Include.NON_EMPTY)
        Map<String, ai.bakery.data.live.LivePosition> live) {
  public WorkerPosition {
    groups = Map.copyOf(groups);
    live = live == null ? Map.of() : Map.copyOf(live);
  }

  public WorkerPosition(Map<String, GroupCursor> groups, PackerState packer, long packs) {
    this(groups, packer, packs, Map.of());
  }
}
