package ai.bakery.runtime.checkpoint;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The step-level rules of the sharded format: committing a step ({@code COMPLETE}) once every rank's part is
 * durable, and deciding whether a step folder may be loaded.
 *
 * <p>A step folder is loadable only when {@code COMPLETE} is present and agrees with every rank manifest and
 * step-wide file it lists, and every manifest agrees with its part file (size and CRC32C). Rank files of another
 * world size, temporaries and anything else in the folder are ignored.
 */
public final class ShardedCheckpoint {
  private static final Logger LOG = LoggerFactory.getLogger(ShardedCheckpoint.class);

  private ShardedCheckpoint() {}

  /** Whether {@code dir} is (or was meant to become) a sharded checkpoint: a marker or any rank file. */
  public static boolean isSharded(Path dir) {
    if (Files.exists(dir.resolve(CompleteMarker.FILE))) {
      return true;
    }
    try (var list = Files.list(dir)) {
      return list.anyMatch(p -> ShardFiles.worldOf(p.getFileName().toString()) > 0);
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * Commits {@code step} in {@code stepDir}: checks that each of the {@code world} ranks wrote its manifest and
   * part (sizes only: the bytes were checksummed as they were written), writes the step-wide JSON files, then
   * {@code COMPLETE}, each durably (fsync + atomic rename). Rank files of other world sizes are removed.
   */
  public static void commit(Path stepDir, long step, int world, Map<String, String> stepFiles) {
    commit(stepDir, step, world, "", stepFiles);
  }

  /** As {@link #commit(Path, long, int, Map)}, refusing parts of any other save attempt than {@code saveId}. */
  public static void commit(Path stepDir, long step, int world, String saveId, Map<String, String> stepFiles) {
    try {
      Map<String, CompleteMarker.FileEntry> files = new TreeMap<>();
      for (int r = 0; r < world; r++) {
        String name = ShardFiles.manifestName(r, world);
        Path mf = stepDir.resolve(name);
        if (!Files.isRegularFile(mf)) {
          throw new CheckpointException(stepDir + ": cannot commit step " + step + ": rank " + r + " of " + world
              + " has not written " + name);
        }
        RankManifest m = ShardFiles.JSON.readValue(mf.toFile(), RankManifest.class);
        Optional<String> bad = checkManifest(stepDir, m, step, r, world, false);
        if (bad.isPresent()) {
          throw new CheckpointException(stepDir + ": cannot commit step " + step + ": " + bad.get());
        }
        String partId = m.saveId() == null ? "" : m.saveId();
        if (!partId.equals(saveId)) {
          throw new CheckpointException(stepDir + ": cannot commit step " + step + ": " + name + " belongs to save '"
              + partId + "', not '" + saveId + "'");
        }
        files.put(name, entry(mf));
      }
      removeOtherWorlds(stepDir, world);
      for (Map.Entry<String, String> f : stepFiles.entrySet()) {
        if (f.getKey().contains("/") || f.getKey().equals(CompleteMarker.FILE) || ShardFiles.worldOf(f.getKey()) > 0) {
          throw new IllegalArgumentException("bad step file name '" + f.getKey() + "'");
        }
        Path p = stepDir.resolve(f.getKey());
        byte[] bytes = ShardFiles.JSON.writeValueAsBytes(ShardFiles.JSON.readTree(f.getValue()));
        ShardFiles.writeDurably(p, bytes);
        files.put(f.getKey(), new CompleteMarker.FileEntry(bytes.length, ShardFiles.crc32c(bytes)));
      }
      CompleteMarker marker = new CompleteMarker(CompleteMarker.FORMAT, step, world, files);
      ShardFiles.writeDurably(stepDir.resolve(CompleteMarker.FILE), ShardFiles.JSON.writeValueAsBytes(marker));
      ShardFiles.fsyncDir(stepDir.toAbsolutePath().getParent());
      LOG.info("Committed checkpoint {} (step {}, {} rank parts).", stepDir, step, world);
    } catch (IOException e) {
      throw new CheckpointException(stepDir + ": cannot commit step " + step + ": " + e.getMessage(), e);
    }
  }

  private static CompleteMarker.FileEntry entry(Path f) throws IOException {
    return new CompleteMarker.FileEntry(Files.size(f), ShardFiles.crc32c(f));
  }

  private static void removeOtherWorlds(Path stepDir, int world) throws IOException {
    try (var list = Files.list(stepDir)) {
      for (Path p : (Iterable<Path>) list::iterator) {
        String n = p.getFileName().toString();
        int w = ShardFiles.worldOf(n);
        if ((w > 0 && w != world) || (n.startsWith("rank-") && n.endsWith(".tmp"))) {
          LOG.info("Removing {} (left by an earlier save of this step).", p);
          Files.deleteIfExists(p);
        }
      }
    }
  }

  /**
   * Why {@code stepDir} must not be loaded, or empty when it is a committed sharded checkpoint whose files all
   * match. With {@code checkData} every part file's CRC32C is recomputed (reads every byte); without, sizes
   * and the small files' checksums only.
   */
  public static Optional<String> problem(Path stepDir, boolean checkData) {
    Path markerFile = stepDir.resolve(CompleteMarker.FILE);
    if (!Files.isRegularFile(markerFile)) {
      return Optional.of("no " + CompleteMarker.FILE + " marker (the save was interrupted before every rank's part"
          + " was durable)");
    }
    CompleteMarker marker;
    try {
      marker = ShardFiles.JSON.readValue(markerFile.toFile(), CompleteMarker.class);
    } catch (IOException e) {
      return Optional.of("unreadable " + CompleteMarker.FILE + ": " + e.getMessage());
    }
    if (!CompleteMarker.FORMAT.equals(marker.format())) {
      return Optional.of(CompleteMarker.FILE + " has format '" + marker.format() + "', expected "
          + CompleteMarker.FORMAT);
    }
    try {
      for (Map.Entry<String, CompleteMarker.FileEntry> e : marker.files().entrySet()) {
        Path f = stepDir.resolve(e.getKey());
        if (!Files.isRegularFile(f)) {
          return Optional.of(e.getKey() + " is missing");
        }
        if (Files.size(f) != e.getValue().bytes()) {
          return Optional.of(e.getKey() + " has " + Files.size(f) + " bytes, " + CompleteMarker.FILE + " says "
              + e.getValue().bytes());
        }
        if (!ShardFiles.crc32c(f).equals(e.getValue().crc32c())) {
          return Optional.of(e.getKey() + " does not match its CRC32C checksum");
        }
      }
      for (int r = 0; r < marker.world(); r++) {
        String name = ShardFiles.manifestName(r, marker.world());
        if (!marker.files().containsKey(name)) {
          return Optional.of(CompleteMarker.FILE + " does not list " + name);
        }
        RankManifest m = ShardFiles.JSON.readValue(stepDir.resolve(name).toFile(), RankManifest.class);
        Optional<String> bad = checkManifest(stepDir, m, marker.step(), r, marker.world(), checkData);
        if (bad.isPresent()) {
          return bad;
        }
      }
    } catch (IOException e) {
      return Optional.of(e.getMessage());
    }
    return Optional.empty();
  }

  private static Optional<String> checkManifest(Path dir, RankManifest m, long step, int rank, int world,
      boolean checkData) throws IOException {
    String name = ShardFiles.manifestName(rank, world);
    if (!RankManifest.FORMAT.equals(m.format())) {
      return Optional.of(name + " has format '" + m.format() + "', expected " + RankManifest.FORMAT);
    }
    if (m.step() != step || m.rank() != rank || m.world() != world) {
      return Optional.of(name + " describes step " + m.step() + " rank " + m.rank() + " of " + m.world()
          + ", expected step " + step + " rank " + rank + " of " + world);
    }
    if (!ShardFiles.partName(rank, world).equals(m.file())) {
      return Optional.of(name + " names part file '" + m.file() + "'");
    }
    Path part = dir.resolve(m.file());
    if (!Files.isRegularFile(part)) {
      return Optional.of(m.file() + " is missing");
    }
    long size = Files.size(part);
    if (size != m.bytes()) {
      return Optional.of(m.file() + " has " + size + " bytes, " + name + " says " + m.bytes() + " (truncated?)");
    }
    for (RankManifest.Slice s : m.tensors()) {
      long n = (s.end() - s.start()) * ShardFiles.dtype(s.dtype(), dir.resolve(name)).size();
      if (s.start() < 0 || s.end() < s.start() || s.offset() < 0 || s.offset() + n > size) {
        return Optional.of(name + ": slice " + s.key() + " lies outside " + m.file());
      }
    }
    if (checkData && !ShardFiles.crc32c(part).equals(m.crc32c())) {
      return Optional.of(m.file() + " does not match its CRC32C checksum");
    }
    return Optional.empty();
  }

  /** The JSON text of a step-wide file of a committed step, if the step has one by that name. */
  public static Optional<String> stepFile(Path stepDir, String name) {
    Path f = stepDir.resolve(name);
    if (!Files.isRegularFile(f)) {
      return Optional.empty();
    }
    try {
      return Optional.of(Files.readString(f, StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new CheckpointException(f + ": cannot read: " + e.getMessage(), e);
    }
  }
}
