package ai.bakery.model.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A checkpoint stored as one safetensors file or as HF-style shards listed by
 * {@code <base>.safetensors.index.json} ({@code weight_map: name -> shard file}). Opening reads headers only.
 */
public final class SafetensorsCheckpoint implements TensorFile {
  private final List<SafetensorsReader> readers;
  private final Map<String, TensorSource> tensors;

  private SafetensorsCheckpoint(List<SafetensorsReader> readers, Map<String, TensorSource> tensors) {
    this.readers = readers;
    this.tensors = Collections.unmodifiableMap(tensors);
  }

  /** Opens a {@code .safetensors} file or a {@code .safetensors.index.json}. */
  public static SafetensorsCheckpoint open(Path path) {
    if (path.getFileName().toString().endsWith(".index.json")) {
      return openIndex(path);
    }
    SafetensorsReader r = SafetensorsReader.open(path);
    return new SafetensorsCheckpoint(List.of(r), new LinkedHashMap<>(r.tensors()));
  }

  /** Finds {@code <base>.safetensors} or {@code <base>.safetensors.index.json} in {@code dir}. */
  public static SafetensorsCheckpoint openIn(Path dir, String base) {
    Path single = dir.resolve(base + ".safetensors");
    Path index = dir.resolve(base + ".safetensors.index.json");
    if (Files.isRegularFile(single)) {
      return open(single);
    }
    if (Files.isRegularFile(index)) {
      return openIndex(index);
    }
    throw new SafetensorsException(dir + ": neither " + single.getFileName() + " nor " + index.getFileName()
        + " exists");
  }

  /** Whether {@link #openIn} would find a checkpoint. */
  public static boolean existsIn(Path dir, String base) {
    return Files.isRegularFile(dir.resolve(base + ".safetensors"))
        || Files.isRegularFile(dir.resolve(base + ".safetensors.index.json"));
  }

  private static SafetensorsCheckpoint openIndex(Path index) {
    JsonNode root;
    try {
      root = new ObjectMapper().readTree(Files.readAllBytes(index));
    } catch (IOException e) {
      throw new SafetensorsException(index + ": cannot read index: " + e.getMessage(), e);
    }
    JsonNode map = root == null ? null : root.get("weight_map");
    if (map == null || !map.isObject()) {
      throw new SafetensorsException(index + ": no weight_map object");
    }
    Path dir = index.toAbsolutePath().getParent();
    Map<String, SafetensorsReader> byFile = new LinkedHashMap<>();
    List<SafetensorsReader> readers = new ArrayList<>();
    Map<String, TensorSource> tensors = new LinkedHashMap<>();
    try {
      for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (!e.getValue().isTextual()) {
          throw new SafetensorsException(index + ": weight_map." + e.getKey() + " is not a file name");
        }
        String fileName = e.getValue().asText();
        if (fileName.isEmpty() || fileName.contains("/") || fileName.contains("\\") || fileName.equals("..")) {
          throw new SafetensorsException(index + ": weight_map." + e.getKey() + " names '" + fileName
              + "', not a file in the index's folder");
        }
        SafetensorsReader r = byFile.get(fileName);
        if (r == null) {
          Path shard = dir.resolve(fileName);
          if (!Files.isRegularFile(shard)) {
            throw new SafetensorsException(index + ": shard " + fileName + " (for " + e.getKey() + ") is missing");
          }
          r = SafetensorsReader.open(shard);
          byFile.put(fileName, r);
          readers.add(r);
        }
        TensorSource t = r.tensors().get(e.getKey());
        if (t == null) {
          throw new SafetensorsException(index + ": weight_map puts " + e.getKey() + " in " + fileName
              + ", which does not hold it");
        }
        tensors.put(e.getKey(), t);
      }
    } catch (RuntimeException ex) {
      for (SafetensorsReader r : readers) {
        r.close();
      }
      throw ex;
    }
    return new SafetensorsCheckpoint(readers, tensors);
  }

  @Override
  public Map<String, TensorSource> tensors() {
    return tensors;
  }

  /** Metadata of the first file (shards written by {@link SafetensorsWriter} all carry the same). */
  public Map<String, String> metadata() {
    return readers.isEmpty() ? Map.of() : readers.get(0).metadata();
  }

  /** Tensor data bytes copied out of the files so far ({@link SafetensorsReader#bytesRead}, summed). */
  public long bytesRead() {
    long n = 0;
    for (SafetensorsReader r : readers) {
      n += r.bytesRead();
    }
    return n;
  }

  @Override
  public void close() {
    RuntimeException first = null;
    for (SafetensorsReader r : readers) {
      try {
        r.close();
      } catch (RuntimeException e) {
        if (first == null) {
          first = e;
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }
}
