package ai.bakery.runtime.checkpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keep-last-N over a checkpoint folder holding either format. Only committed checkpoints count toward N, so the
 * newest committed one is never removed; sharded step folders that never committed and are older than the newest
 * committed one are debris of interrupted saves and go too. Folders that are not Bakery checkpoints stay.
 */
public final class CheckpointRetention {
  private static final Logger LOG = LoggerFactory.getLogger(CheckpointRetention.class);

  private CheckpointRetention() {}

  /** Applies {@code keepLast} (0 keeps everything) to {@code root}. */
  public static void apply(Path root, int keepLast) {
    if (keepLast <= 0) {
      return;
    }
    int kept = 0;
    for (Path d : CheckpointManager.stepDirs(root)) {
      boolean committed = Files.isRegularFile(d.resolve(CompleteMarker.FILE))
          || Files.isRegularFile(d.resolve(Manifest.FILE));
      if (committed) {
        if (++kept <= keepLast) {
          continue;
        }
        remove(d, "keep_last=" + keepLast);
      } else if (kept > 0 && ShardedCheckpoint.isSharded(d)) {
        remove(d, "never committed, older than a committed checkpoint");
      }
    }
  }

  private static void remove(Path d, String why) {
    try {
      CheckpointManager.deleteTree(d);
      LOG.info("Removed checkpoint {} ({}).", d, why);
    } catch (IOException e) {
      LOG.warn("Could not remove old checkpoint {}: {}", d, e.getMessage());
    }
  }
}
