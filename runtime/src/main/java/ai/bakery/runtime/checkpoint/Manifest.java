package ai.bakery.runtime.checkpoint;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The last file written into a checkpoint folder: every other file's size and SHA-256. A folder whose manifest
 * is missing, unreadable or disagrees with any file is not a complete checkpoint.
 *
 * @param format {@link #FORMAT}
 * @param step the optimizer step the checkpoint was taken after
 * @param files file name (relative to the folder) -> size and checksum
 */
public record Manifest(
    @JsonProperty("format") String format,
    @JsonProperty("step") long step,
    @JsonProperty("files") Map<String, FileEntry> files) {

  public static final String FILE = "manifest.json";
  public static final String FORMAT = "bakery-checkpoint-1";
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  public record FileEntry(@JsonProperty("bytes") long bytes, @JsonProperty("sha256") String sha256) {}

  public Manifest {
    files = new TreeMap<>(files);
  }

  /** Describes every regular file in {@code dir} (the manifest itself excluded). */
  public static Manifest describe(Path dir, long step) throws IOException {
    Map<String, FileEntry> files = new TreeMap<>();
    try (var list = Files.list(dir)) {
      for (Path f : (Iterable<Path>) list::iterator) {
        String name = f.getFileName().toString();
        if (Files.isRegularFile(f) && !name.equals(FILE)) {
          files.put(name, new FileEntry(Files.size(f), sha256(f)));
        }
      }
    }
    return new Manifest(FORMAT, step, files);
  }

  public void write(Path dir) throws IOException {
    Path f = dir.resolve(FILE);
    try (FileChannel out = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer b = ByteBuffer.wrap(JSON.writeValueAsBytes(this));
      while (b.hasRemaining()) {
        out.write(b);
      }
      out.force(true);
    }
  }

  public static Manifest read(Path dir) throws IOException {
    return JSON.readValue(dir.resolve(FILE).toFile(), Manifest.class);
  }

  /**
   * Why {@code dir} is not a complete checkpoint, or empty when its manifest is readable and every listed file
   * exists with the recorded size and checksum.
   */
  public static Optional<String> problem(Path dir) {
    Manifest m;
    try {
      if (!Files.isRegularFile(dir.resolve(FILE))) {
        return Optional.of("no " + FILE + " (save interrupted, or not a Bakery checkpoint)");
      }
      m = read(dir);
    } catch (IOException e) {
      return Optional.of("unreadable " + FILE + ": " + e.getMessage());
    }
    if (!FORMAT.equals(m.format())) {
      return Optional.of(FILE + " has format '" + m.format() + "', expected " + FORMAT);
    }
    for (Map.Entry<String, FileEntry> e : m.files().entrySet()) {
      Path f = dir.resolve(e.getKey());
      try {
        if (!Files.isRegularFile(f)) {
          return Optional.of(e.getKey() + " is missing");
        }
        long size = Files.size(f);
        if (size != e.getValue().bytes()) {
          return Optional.of(e.getKey() + " has " + size + " bytes, the manifest says " + e.getValue().bytes());
        }
        if (!sha256(f).equals(e.getValue().sha256())) {
          return Optional.of(e.getKey() + " does not match its SHA-256 checksum");
        }
      } catch (IOException ex) {
        return Optional.of(e.getKey() + ": " + ex.getMessage());
      }
    }
    return Optional.empty();
  }

  static String sha256(Path f) throws IOException {
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
    try (FileChannel in = FileChannel.open(f, StandardOpenOption.READ)) {
      while (in.read(buf) >= 0) {
        buf.flip();
        md.update(buf);
        buf.clear();
      }
    }
    return HexFormat.of().formatHex(md.digest());
  }
}
