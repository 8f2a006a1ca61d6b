package ai.bakery.model.io;

import java.util.List;

/**
 * What a state-dict load did: {@code loaded} target names filled; {@code missing} target parameters the source
 * lacked; {@code unexpected} source names the model has no parameter for; {@code skipped} names ignored on
 * purpose (fixed sin-cos tables) or dropped by the adapter.
 */
public record LoadReport(List<String> loaded, List<String> missing, List<String> unexpected, List<String> skipped) {
  public LoadReport {
    loaded = List.copyOf(loaded);
    missing = List.copyOf(missing);
    unexpected = List.copyOf(unexpected);
    skipped = List.copyOf(skipped);
  }

  public boolean clean() {
    return missing.isEmpty() && unexpected.isEmpty();
  }

  @Override
  public String toString() {
    return "loaded " + loaded.size() + ", missing " + missing.size() + StateDictLoader.sample(missing)
        + ", unexpected " + unexpected.size() + StateDictLoader.sample(unexpected) + ", skipped " + skipped.size();
  }
}
