package ai.bakery.runtime.checkpoint;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Map;
import java.util.TreeMap;

/**
 * The step-level {@code COMPLETE} file of a sharded checkpoint, written by whoever commits the step once every
 * rank's part is durable. Its presence is what makes a step folder loadable; it lists each rank manifest and
 * each step-wide state file with size and CRC32C, so a later change to any of them is caught.
 *
 * @param format {@link #FORMAT}
 * @param step the optimizer step
 * @param world the number of rank parts
 * @param files file name -> size and CRC32C
 */
public record CompleteMarker(
    @JsonProperty("format") String format,
    @JsonProperty("step") long step,
    @JsonProperty("world") int world,
    @JsonProperty("files") Map<String, FileEntry> files) {

  public static final String FILE = "COMPLETE";
  public static final String FORMAT = "bakery-sharded-1";

  public record FileEntry(@JsonProperty("bytes") long bytes, @JsonProperty("crc32c") String crc32c) {}

  public CompleteMarker {
    files = new TreeMap<>(files);
  }
}
