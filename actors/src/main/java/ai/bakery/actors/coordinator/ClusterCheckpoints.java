package ai.bakery.actors.coordinator;

import ai.bakery.actors.job.CheckpointRef;
import ai.bakery.actors.job.JobEffect;
import ai.bakery.actors.job.JobSnapshot;
import ai.bakery.runtime.checkpoint.CheckpointException;
import ai.bakery.runtime.checkpoint.CheckpointManager;
import ai.bakery.runtime.checkpoint.CheckpointRetention;
import ai.bakery.runtime.checkpoint.ShardedCheckpoint;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The coordinator's side of a cluster job's checkpoints in {@code training.checkpoint.checkpoint_dir} (a folder every
 * node sees): committing a step once every rank's part is durable (the job's state at that step, then
 * {@code COMPLETE}, last), keep-last-N, and finding the newest complete one to resume from.
 *
 * <p>A cluster checkpoint is a sharded checkpoint ({@code ai.bakery.runtime.checkpoint}) in the folder of its
 * trainer step (job step {@code s} is the trainer's step {@code s - 1}, as {@code bakery train} names it), holding
 * besides the step-wide files {@value #JOB_FILE}: the job's {@link JobSnapshot} at that step, the data ledger
 * included. A folder missing any part, any listed file, {@code COMPLETE} or that snapshot, or whose sizes or
 * checksums disagree, is torn and never used.
 */
public final class ClusterCheckpoints {
  private static final Logger LOG = LoggerFactory.getLogger(ClusterCheckpoints.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The job's state at the checkpoint's step, written by the coordinator just before COMPLETE. */
  public static final String JOB_FILE = "job_snapshot.json";

  private final Path root;
  private final int keepLast;
  private final boolean resumeAtStart;

  /**
   * @param root the checkpoint folder
   * @param keepLast keep only the newest N complete checkpoints (0: all)
   * @param resumeAtStart a job starting without stored state resumes from the newest complete checkpoint
   *     ({@code auto_resume})
   */
  public ClusterCheckpoints(Path root, int keepLast, boolean resumeAtStart) {
    this.root = root.toAbsolutePath().normalize();
    this.keepLast = keepLast;
    this.resumeAtStart = resumeAtStart;
  }

  public Path root() {
    return root;
  }

  public boolean resumeAtStart() {
    return resumeAtStart;
  }

  /** The folder of committed job step {@code jobStep}. */
  public Path stepDir(long jobStep) {
    return root.resolve(CheckpointManager.stepName(jobStep - 1));
  }

  /** A complete checkpoint and where it lies. */
  public record Found(Path dir, CheckpointRef checkpoint) {}

  /** What a scan found: the newest complete checkpoint, and why each newer folder was passed over. */
  public record Scan(Optional<Found> latest, List<String> skipped) {}

  /**
   * The newest complete cluster checkpoint (every file's checksum verified); each newer step folder that is not one
   * is passed over with a logged reason.
   */
  public Scan scan() {
    List<String> skipped = new ArrayList<>();
    for (Path dir : CheckpointManager.stepDirs(root)) {
      Optional<String> problem = problem(dir);
      if (problem.isEmpty()) {
        JobSnapshot snapshot = readSnapshot(dir);
        return new Scan(Optional.of(new Found(dir, new CheckpointRef(snapshot.committedStep(), snapshot))), skipped);
      }
      String why = dir + ": " + problem.get();
      LOG.warn("Ignoring checkpoint {}", why);
      skipped.add(why);
    }
    return new Scan(Optional.empty(), skipped);
  }

  /** Why {@code dir} cannot be resumed from as a cluster checkpoint, or empty when it can. */
  static Optional<String> problem(Path dir) {
    if (!ShardedCheckpoint.isSharded(dir)) {
      return Optional.of("not a sharded checkpoint (no rank parts or COMPLETE), so not a cluster checkpoint");
    }
    Optional<String> torn = ShardedCheckpoint.problem(dir, true);
    if (torn.isPresent()) {
      return torn;
    }
    Optional<String> json = ShardedCheckpoint.stepFile(dir, JOB_FILE);
    if (json.isEmpty()) {
      return Optional.of("COMPLETE but no " + JOB_FILE + ": not saved by a cluster job, it holds no data ledger");
    }
    try {
      JobSnapshot s = JSON.readValue(json.get(), JobSnapshot.class);
      long folderStep = Long.parseLong(dir.getFileName().toString());
      if (s.committedStep() != folderStep + 1) {
        return Optional.of(JOB_FILE + " describes job step " + s.committedStep() + ", the folder trainer step "
            + folderStep + " (job step " + (folderStep + 1) + ")");
      }
    } catch (IOException | RuntimeException e) {
      return Optional.of("unreadable " + JOB_FILE + ": " + e.getMessage());
    }
    return Optional.empty();
  }

  private static JobSnapshot readSnapshot(Path dir) {
    try {
      return JSON.readValue(ShardedCheckpoint.stepFile(dir, JOB_FILE).orElseThrow(), JobSnapshot.class);
    } catch (IOException e) {
      throw new CheckpointException(dir + ": unreadable " + JOB_FILE + ": " + e.getMessage(), e);
    }
  }

  /**
   * Commits a checkpoint whose parts are all durable: its step-wide files and the job's state, then COMPLETE (each
   * written durably; {@link ShardedCheckpoint#commit} refuses parts of another save attempt), then keep-last-N.
   *
   * @return the committed folder
   */
  public Path commit(JobEffect.CommitCheckpoint c) {
    Path dir = stepDir(c.step());
    Map<String, String> files = new LinkedHashMap<>(c.stepFiles() == null ? Map.of() : c.stepFiles());
    try {
      files.put(JOB_FILE, JSON.writeValueAsString(c.snapshot()));
    } catch (IOException e) {
      throw new CheckpointException("cannot write the job snapshot of step " + c.step() + " as JSON: "
          + e.getMessage(), e);
    }
    ShardedCheckpoint.commit(dir, c.step() - 1, c.parts(), c.saveId(), files);
    CheckpointRetention.apply(root, keepLast);
    return dir;
  }
}
