package ai.bakery.data.pack;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * What a packer holds between packs: its group-choice generator and the samples it has read but not packed
 * (the reference packer's overflow buffer, first_fit's sample that did not fit). Taken at a pack boundary,
 * so nothing is half packed.
 *
 * @param groupRng state of the group-choice generator
 * @param held samples read but not yet packed, in the order they will be used
 */
public record PackerState(@JsonProperty("group_rng") long groupRng, @JsonProperty("held") List<SampleRef> held) {
  public PackerState {
    held = List.copyOf(held);
  }
}
