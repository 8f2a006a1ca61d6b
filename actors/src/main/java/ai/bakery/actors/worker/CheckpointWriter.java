package ai.bakery.actors.worker;

import ai.bakery.runtime.checkpoint.ShardedSaver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A worker's side of a cluster checkpoint: right after the commit (on the trainer's thread, so the next step waits
 * only for this) it copies the rank's part of the state to host memory, and a {@link ShardedSaver} writes the part
 * and its manifest in the background (fsync, atomic renames). The coordinator, not a rank, writes the step-wide
 * files and {@code COMPLETE} once every part is durable, so a saver here never commits.
 */
public final class CheckpointWriter implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(CheckpointWriter.class);

  /**
   * What a rank wrote.
   *
   * @param part the part's rank in the checkpoint (-1: this rank writes none, another replica holds the same)
   * @param parts the checkpoint's number of parts
   * @param stepFiles the step-wide files (from part 0), for the coordinator to write with COMPLETE
   * @param stallNanos how long the training step waited (the copy to host memory)
   * @param totalNanos from the start of the copy to the part and manifest being durable
   */
  public record Part(int part, int parts, Map<String, String> stepFiles, long stallNanos, long totalNanos) {}

  private ShardedSaver saver;

  /**
   * Snapshots this rank's part of committed job step {@code jobStep} and writes it in the background.
   *
   * @param rank the rank whose committed state is saved
   * @param index this worker's place in {@code ranks}, the group that committed the step
   * @param root the checkpoint folder shared by the job's nodes; the part goes to its trainer-step folder
   * @return completes when the part is durable
   */
  public CompletableFuture<Part> save(ClusterRank rank, long jobStep, String saveId, List<String> ranks, int index,
      Path root) {
    long t0 = System.nanoTime();
    ClusterRank.CheckpointPart p = rank.checkpointPart(index, ranks.size());
    if (p == null) {
      return CompletableFuture.completedFuture(new Part(-1, 0, Map.of(), System.nanoTime() - t0, 0));
    }
    ShardedSaver s = saverFor(root, p.rank(), p.world());
    // job step s is the trainer's step s - 1, the folder name bakery train gives the same state
    ShardedSaver.Ticket ticket = s.snapshot(new ShardedSaver.Request(jobStep - 1, p.groups(), p.rankStates(), null,
        saveId));
    long stall = System.nanoTime() - t0;
    return ticket.done().thenApply(w -> new Part(p.rank(), p.world(), p.stepFiles(), stall, System.nanoTime() - t0));
  }

  private ShardedSaver saverFor(Path root, int part, int parts) {
    ShardedSaver.Config want = new ShardedSaver.Config(root, part, parts, 1, 0, Duration.ofMinutes(10));
    if (saver != null && saver.config().equals(want)) {
      return saver;
    }
    ShardedSaver old = saver;
    saver = new ShardedSaver(want);
    if (old != null) {
      // another place in another world: the old saver finishes its writes on its own thread
      Thread t = new Thread(old::close, "checkpoint-saver-close");
      t.setDaemon(true);
      t.start();
    }
    return saver;
  }

  /**
   * The step-wide files {@code bakery train} writes for trainer step {@code step} (its train state, schedule and
   * optimizer settings with the per-parameter AdamW update counts), as part 0 of a checkpoint gives them.
   */
  public static Map<String, String> stepFiles(ai.bakery.runtime.config.TrainingSection training,
      ai.bakery.runtime.optim.LrSchedule schedule, long step, ai.bakery.runtime.train.TrainStep counters, int world,
      Map<String, Long> optimizerSteps) {
    var opt = training.optimizer();
    var sch = training.schedule();
    var state = new ai.bakery.runtime.checkpoint.TrainState(step, counters.microStep(), training.loop().globalSeed(),
        world, counters.skippedSteps(), counters.tokensSeen());
    var sched = new ai.bakery.runtime.checkpoint.SchedulerState(step + 1, opt.lr(), sch.lrScheduler(),
        sch.warmupSteps(), sch.totalSteps(), sch.minLr(), schedule.lr(step + 1));
    var settings = new ai.bakery.runtime.checkpoint.CheckpointManager.OptimizerSettings(opt.lr(), opt.beta1(),
        opt.beta2(), opt.eps(), opt.weightDecay());
    return ai.bakery.runtime.checkpoint.CheckpointManager.stepFiles(settings, optimizerSteps, sched, state, null);
  }

  /** Waits for the writes in flight. */
  @Override
  public void close() {
    if (saver != null) {
      LOG.debug("closing the checkpoint saver (waits for writes in flight)");
      saver.close();
      saver = null;
    }
  }
}
