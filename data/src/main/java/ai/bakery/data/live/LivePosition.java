package ai.bakery.data.live;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Where a live source's read stands, saved with a checkpoint. Offsets are per stream key (a watched file, the
 * ingest log, a Kafka partition): the first record that was not yet packed when the position was taken. A
 * packer may hold a sample back (its overflow buffer) while later ones are packed; those later ones are listed
 * in {@code done} as {@code key@offset} so a resume re-reads the held one and passes over what was trained.
 *
 * @param offsets per key, the offset to read from on resume
 * @param done positions at or after their key's offset that were already packed
 */
public record LivePosition(@JsonProperty("offsets") Map<String, Long> offsets,
    @JsonProperty("done") List<String> done) {
  public static final LivePosition START = new LivePosition(Map.of(), List.of());

  public LivePosition {
    offsets = offsets == null ? Map.of() : Map.copyOf(offsets);
    done = done == null ? List.of() : List.copyOf(done);
  }

  /** Where to start reading {@code key}: its saved offset, or 0 for a key never seen. */
  public long offset(String key) {
    return offsets.getOrDefault(key, 0L);
  }

  /** The {@code done} entries as a set, for lookups while replaying. */
  public Set<String> doneSet() {
    return Set.copyOf(done);
  }

  /** The {@code done} entry of one record. */
  public static String doneKey(String key, long offset) {
    return key + "@" + offset;
  }
}
