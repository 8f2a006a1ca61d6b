package ai.bakery.actors.coordinator;

import ai.bakery.actors.job.JobSnapshot;
import java.util.Optional;

/** Where the coordinator keeps the job's snapshot so a successor (after fail-over) resumes from it. */
public interface JobStore {
  Optional<JobSnapshot> load();

  void save(JobSnapshot snapshot);
}
