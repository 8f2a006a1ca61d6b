package ai.bakery.runtime.collective;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Ranks in separate processes that share a folder (one machine, or a shared file system): each rank writes
 * {@code <folder>/<key>/<rank>} atomically (temp file + rename) and polls until all files exist.
 */
public final class FileRendezvous implements Rendezvous {
  private static final long POLL_MILLIS = 10;
  private final Path folder;

  public FileRendezvous(Path folder) {
    this.folder = folder;
  }

  @Override
  public List<byte[]> exchange(String key, int rank, int worldSize, byte[] payload, Duration timeout) {
    if (rank < 0 || rank >= worldSize) {
      throw new IllegalArgumentException("rank " + rank + " outside [0, " + worldSize + ")");
    }
    if (!key.matches("[A-Za-z0-9._@-]+")) {
      throw new IllegalArgumentException("rendezvous key '" + key + "' must be a plain file name");
    }
    Path dir = folder.resolve(key);
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      Files.createDirectories(dir);
      Path tmp = dir.resolve(rank + ".tmp");
      Files.write(tmp, payload);
      Files.move(tmp, dir.resolve(Integer.toString(rank)), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      List<byte[]> out = new ArrayList<>(worldSize);
      for (int r = 0; r < worldSize; r++) {
        Path file = dir.resolve(Integer.toString(r));
        while (true) {
          try {
            out.add(Files.readAllBytes(file));
            break;
          } catch (NoSuchFileException missing) {
            if (System.nanoTime() > deadline) {
              throw new CollectiveException(CollectiveException.Reason.RENDEZVOUS,
                  "rank " + r + " did not publish " + file + " within " + timeout);
            }
            Thread.sleep(POLL_MILLIS);
          }
        }
      }
      return out;
    } catch (IOException e) {
      throw new CollectiveException(CollectiveException.Reason.RENDEZVOUS, "rendezvous folder " + dir + ": " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CollectiveException(CollectiveException.Reason.RENDEZVOUS, "interrupted at " + dir, e);
    }
  }
}
