package ai.bakery.runtime.checkpoint;

import ai.bakery.runtime.parallel.ShardRange;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;

/**
 * What one rank wrote for a step of a sharded checkpoint ({@code rank-0000r-of-0000w.json}), written after its
 * part file is durable: the part's size and CRC32C, where each slice lies in it, and the rank's own states
 * (data position, RNG). Together with {@link CompleteMarker} it is all a reader needs to rebuild any layout.
 *
 * @param format {@link #FORMAT}
 * @param step the optimizer step saved
 * @param rank the writing rank
 * @param world the world size at the save
 * @param file the part file's name (in the same folder)
 * @param bytes the part file's size
 * @param crc32c the part file's CRC32C, 8 hex digits
 * @param tensors every slice in the part, in file order
 * @param states rank-local JSON states by name
 * @param saveId the save attempt this part belongs to (the same on every rank of one save), so a part left by an
 *     earlier attempt at the same step is never committed with this one's
 */
public record RankManifest(
    @JsonProperty("format") String format,
    @JsonProperty("step") long step,
    @JsonProperty("rank") int rank,
    @JsonProperty("world") int world,
    @JsonProperty("file") String file,
    @JsonProperty("bytes") long bytes,
    @JsonProperty("crc32c") String crc32c,
    @JsonProperty("tensors") List<Slice> tensors,
    @JsonProperty("states") Map<String, JsonNode> states,
    @JsonProperty("save_id") String saveId) {

  public static final String FORMAT = "bakery-sharded-rank-1";

  /**
   * One stored slice.
   *
   * @param key {@code <group>/<name>}, e.g. {@code model/language_model.norm.weight}
   * @param dtype the stored element type (safetensors name)
   * @param shape the full tensor's shape
   * @param start first flat element held (ShardRange start)
   * @param end one past the last flat element held
   * @param offset the byte offset of the slice's first element in the part file
   */
  public record Slice(
      @JsonProperty("key") String key,
      @JsonProperty("dtype") String dtype,
      @JsonProperty("shape") long[] shape,
      @JsonProperty("start") long start,
      @JsonProperty("end") long end,
      @JsonProperty("offset") long offset) {

    public ShardRange range() {
      return new ShardRange(start, end);
    }
  }
}
