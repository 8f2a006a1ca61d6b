package ai.bakery.runtime.parallel.fsdp;

import ai.bakery.data.pack.PackedBatch;
import java.util.List;
import java.util.function.Predicate;

/**
 * One chain of checkpointed segments as the model runs it (the ViT encoder layers, the connector, the decoder
 * layers): the parameter-name prefix of each segment's unit, in run order, and which packs make the model run
 * the chain at all.
 */
public record SegmentChain(String name, List<String> unitPrefixes, Predicate<PackedBatch> runsOn) {
  public SegmentChain {
    if (unitPrefixes.isEmpty()) {
      throw new IllegalArgumentException("chain " + name + " has no segments");
    }
    unitPrefixes = List.copyOf(unitPrefixes);
  }
}
