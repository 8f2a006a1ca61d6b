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
 */
public record GroupSpec(String name, double weight, boolean mandatory, boolean resume, boolean shuffleLines,
    long shuffleSeed, List<GroupDataset> datasets, SequencePlanner planner) {
  public GroupSpec {
    datasets = List.copyOf(datasets);
    if (datasets.isEmpty()) {
      throw new IllegalArgumentException("dataset group " + name + " has no datasets");
    }
  }
}
