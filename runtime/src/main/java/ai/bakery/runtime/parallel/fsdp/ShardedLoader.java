package ai.bakery.runtime.parallel.fsdp;

import ai.bakery.model.io.TensorSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Fills a rank's shards from a checkpoint: each slice reads only elements {@code [start, end)} of its tensor
 * ({@link TensorSource#copyElementsInto}), so a rank of a memory-mapped safetensors checkpoint touches its own
 * byte ranges and no process reads the whole model.
 */
public final class ShardedLoader {
  private ShardedLoader() {}

  /** What a load did: how many slices were filled and which names the checkpoint lacked. */
  public record Report(int loaded, List<String> missing) {}

  /**
   * Copies each target's slice from the tensor of the same name. A tensor whose shape differs from the
   * parameter's is an error naming both; a missing one is an error when {@code strict}, else reported.
   *
   * @param targets e.g. {@link ShardedState#params()} or {@link ShardedState#ema()}
   */
  public static Report load(Map<String, TensorSource> source, List<ShardSlice> targets, boolean strict) {
    int loaded = 0;
    List<String> missing = new ArrayList<>();
    for (ShardSlice t : targets) {
      TensorSource s = source.get(t.name());
      if (s == null) {
        missing.add(t.name());
        continue;
      }
      if (!Arrays.equals(s.shape(), t.shape())) {
        throw new IllegalArgumentException("checkpoint tensor " + t.name() + " has shape " + Arrays.toString(s.shape())
            + ", the parameter " + Arrays.toString(t.shape()));
      }
      s.copyElementsInto(t.range().start(), t.range().end(), t.shard());
      loaded++;
    }
    if (strict && !missing.isEmpty()) {
      throw new IllegalArgumentException("checkpoint lacks " + missing.size() + " parameter(s), first " + missing.get(0));
    }
    return new Report(loaded, List.copyOf(missing));
  }
}
