package ai.bakery.actors.coordinator;

import ai.bakery.actors.job.JobSnapshot;
import java.util.Optional;

/** Where the coordinator keeps the job's snapshot so a successor (after fail-over) resumes from it. */
public interface JobStore {
  Optional<JobSnapshot> load();

  void save(JobSnapshot snapshot);

  /** The job's checkpoints, when it saves any (the coordinator commits them and resumes from them). */
  default java.util.Optional<ClusterCheckpoints> checkpoints() {
    return java.util.Optional.empty();
  }
}
