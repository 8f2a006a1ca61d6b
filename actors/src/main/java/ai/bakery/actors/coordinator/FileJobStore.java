package ai.bakery.actors.coordinator;

import ai.bakery.actors.job.JobSnapshot;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Optional;

/**
 * The job snapshot as one JSON file on shared storage, replaced atomically (write temp, fsync, rename), so a
 * reader sees either the old or the new snapshot, never a torn one.
 */
public final class FileJobStore implements JobStore {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final Path file;
  private final ClusterCheckpoints checkpoints;

  public FileJobStore(Path file) {
    this(file, null);
  }

  /** @param checkpoints the job's checkpoints (null: it saves none) */
  public FileJobStore(Path file, ClusterCheckpoints checkpoints) {
    this.file = file;
    this.checkpoints = checkpoints;
  }

  @Override
  public Optional<ClusterCheckpoints> checkpoints() {
    return Optional.ofNullable(checkpoints);
  }

  @Override
  public Optional<JobSnapshot> load() {
    if (!Files.exists(file)) {
      return Optional.empty();
    }
    try {
      return Optional.of(JSON.readValue(file.toFile(), JobSnapshot.class));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read job snapshot " + file, e);
    }
  }

  @Override
  public void save(JobSnapshot snapshot) {
    try {
      Files.createDirectories(file.toAbsolutePath().getParent());
      Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
      byte[] bytes = JSON.writeValueAsBytes(snapshot);
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          StandardOpenOption.TRUNCATE_EXISTING)) {
        ch.write(java.nio.ByteBuffer.wrap(bytes));
        ch.force(true);
      }
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write job snapshot " + file, e);
    }
  }
}
