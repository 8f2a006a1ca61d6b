package ai.bakery.actors.job;

/**
 * A complete cluster checkpoint as the job logic knows it: the committed job step it holds and the job's state at
 * that step (its ledger), from which a job whose workers lost their state resumes.
 */
public record CheckpointRef(long step, JobSnapshot snapshot) {
  public CheckpointRef {
    if (step < 1) {
      throw new IllegalArgumentException("a checkpoint holds a committed step (>= 1), got " + step);
    }
    if (snapshot.committedStep() != step) {
      throw new IllegalArgumentException("checkpoint of step " + step + " holds the job state of step "
          + snapshot.committedStep());
    }
  }
}
