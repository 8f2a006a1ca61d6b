package ai.bakery.data.shard;

import ai.bakery.data.plan.SequencePlanner;
import java.util.List;

/**
 * A dataset group resolved for reading: its datasets, sampling settings and planner (its image transforms).
 *
 * @param name the group's name
 * @param weight share of drawn samples
 * @param mandatory contributes a sample to every pack
 * @param resume restore its read position on resume (the reference's resume_data_status)
 * @param shuffleLines shuffle record units before num_used_data (JSONL groups)
 * @param shuffleSeed that shuffle's seed
 * @param datasets its datasets
 * @param planner plans its samples
 * @param live its live source instead of datasets, or null for a static group
 */
public record GroupSpec(String name, double weight, boolean mandatory, boolean resume, boolean shuffleLines,
    long shuffleSeed, List<GroupDataset> datasets, SequencePlanner planner, ai.bakery.data.live.LiveSpec live) {
  public GroupSpec {
    datasets = List.copyOf(datasets);
    if (datasets.isEmpty() && live == null) {
      throw new IllegalArgumentException("dataset group " + name + " has no datasets");
    }
    if (!datasets.isEmpty() && live != null) {
      throw new IllegalArgumentException("dataset group " + name + " is live and cannot also have datasets");
    }
  }

  /** A static group. */
  public GroupSpec(String name, double weight, boolean mandatory, boolean resume, boolean shuffleLines,
      long shuffleSeed, List<GroupDataset> datasets, SequencePlanner planner) {
    this(name, weight, mandatory, resume, shuffleLines, shuffleSeed, datasets, planner, null);
  }

  /** A live group: samples from {@code live}'s source, planned by {@code planner}. */
  public static GroupSpec live(String name, double weight, boolean mandatory, boolean resume,
      SequencePlanner planner, ai.bakery.data.live.LiveSpec live) {
    return new GroupSpec(name, weight, mandatory, resume, false, 0, List.of(), planner, live);
  }

  public boolean isLive() {
    return live != null;
  }
}
