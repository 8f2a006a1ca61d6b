package ai.bakery.data.pack;

import ai.bakery.data.plan.PlannedSample;

/** A planned sample offered to a packer, with where it came from. */
public record PackCandidate(PlannedSample sample, SampleRef ref) {
  public int group() {
    return ref.group();
  }
}
