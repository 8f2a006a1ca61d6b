package ai.bakery.runtime.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes the reference's consolidated {@code model.safetensors} and {@code ema.safetensors} from a sharded step
 * folder, tensor by tensor: each tensor's bytes are its saved slices in rank order, so they are copied file to
 * file ({@link FileChannel#transferTo}) without ever holding a tensor, let alone the model, in memory. Names are
 * the saved parameter names, which are the reference's checkpoint keys; values keep their saved type.
 */
public final class ShardedExport {
  private static final Logger LOG = LoggerFactory.getLogger(ShardedExport.class);
  private static final ObjectMapper COMPACT = new ObjectMapper();

  private ShardedExport() {}

  /**
   * Exports {@code stepDir} (checked in full, checksums included) into {@code outDir}; returns the files written.
   * A folder in the single-process format already holds the consolidated files: they are copied.
   */
  public static List<Path> export(Path stepDir, Path outDir) {
    List<Path> written = new ArrayList<>();
    try {
      Files.createDirectories(outDir);
      if (!ShardedCheckpoint.isSharded(stepDir)) {
        Manifest.problem(stepDir).ifPresent(p -> {
          throw new CheckpointException(stepDir + " is not a complete checkpoint: " + p);
        });
        for (String base : List.of(CheckpointManager.MODEL, CheckpointManager.EMA)) {
          Path f = stepDir.resolve(base + ".safetensors");
          if (Files.isRegularFile(f)) {
            Path target = outDir.resolve(f.getFileName());
            Files.copy(f, target, StandardCopyOption.REPLACE_EXISTING);
            written.add(target);
          }
        }
        return written;
      }
      try (ShardedReader reader = ShardedReader.open(stepDir)) {
        for (String group : List.of(CheckpointManager.MODEL, CheckpointManager.EMA)) {
          if (reader.groups().contains(group)) {
            Path f = outDir.resolve(group + ".safetensors");
            writeGroup(stepDir, group, f);
            written.add(f);
          }
        }
      }
    } catch (IOException e) {
      throw new CheckpointException(stepDir + ": cannot export to " + outDir + ": " + e.getMessage(), e);
    }
    if (written.isEmpty()) {
      throw new CheckpointException(stepDir + " holds no model or EMA weights to export");
    }
    return written;
  }

  /** One saved slice with its file, in the order it is copied. */
  private record Source(Path file, long offset, long bytes) {}

  private static void writeGroup(Path stepDir, String group, Path out) throws IOException {
    CompleteMarker marker = ShardFiles.JSON.readValue(stepDir.resolve(CompleteMarker.FILE).toFile(),
        CompleteMarker.class);
    // name -> (dtype, shape, slices in rank order); names sorted, as our single-file writer orders them
    Map<String, RankManifest.Slice> first = new TreeMap<>();
    Map<String, List<Source>> sources = new TreeMap<>();
    String prefix = group + "/";
    for (int r = 0; r < marker.world(); r++) {
      RankManifest m = ShardFiles.JSON.readValue(
          stepDir.resolve(ShardFiles.manifestName(r, marker.world())).toFile(), RankManifest.class);
      for (RankManifest.Slice s : m.tensors()) {
        if (!s.key().startsWith(prefix)) {
          continue;
        }
        String name = s.key().substring(prefix.length());
        first.putIfAbsent(name, s);
        long esize = ShardFiles.dtype(s.dtype(), stepDir).size();
        sources.computeIfAbsent(name, k -> new ArrayList<>())
            .add(new Source(stepDir.resolve(m.file()), s.offset(), (s.end() - s.start()) * esize));
      }
    }
    Map<String, Object> header = new LinkedHashMap<>();
    header.put("__metadata__", Map.of("format", "pt"));
    long offset = 0;
    for (Map.Entry<String, RankManifest.Slice> e : first.entrySet()) {
      RankManifest.Slice s = e.getValue();
      long n = ShardedTensor.numel(s.shape()) * ShardFiles.dtype(s.dtype(), stepDir).size();
      Map<String, Object> entry = new LinkedHashMap<>();
      entry.put("dtype", s.dtype());
      entry.put("shape", s.shape());
      entry.put("data_offsets", new long[] {offset, offset + n});
      header.put(e.getKey(), entry);
      offset += n;
    }
    byte[] json = COMPACT.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
    int padded = (json.length + 7) / 8 * 8;
    ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
    head.putLong(padded).put(json);
    while (head.hasRemaining()) {
      head.put((byte) ' ');
    }
    head.flip();
    Path tmp = out.resolveSibling(out.getFileName() + ".tmp");
    Map<Path, FileChannel> open = new LinkedHashMap<>();
    try (FileChannel dst = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      while (head.hasRemaining()) {
        dst.write(head);
      }
      for (List<Source> tensor : sources.values()) {
        for (Source src : tensor) {
          FileChannel in = open.get(src.file());
          if (in == null) {
            in = FileChannel.open(src.file(), StandardOpenOption.READ);
            open.put(src.file(), in);
          }
          long done = 0;
          while (done < src.bytes()) {
            long n = in.transferTo(src.offset() + done, src.bytes() - done, dst);
            if (n <= 0) {
              throw new IOException(src.file() + ": unexpected end of data at " + (src.offset() + done));
            }
            done += n;
          }
        }
      }
      dst.force(true);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(tmp);
      throw e;
    } finally {
      for (FileChannel c : open.values()) {
        c.close();
      }
    }
    Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    LOG.info("Exported {} tensors of {} from {} to {} ({} bytes).", first.size(), group, stepDir, out, offset);
  }
}
