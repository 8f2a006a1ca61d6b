package ai.bakery.data.source.records;

import java.nio.file.Path;
import java.util.Locale;

/** How records are stored on disk. Every container yields records as Jackson trees, one per row. */
public enum RecordContainer {
  /** Parquet; one unit per row group (from the footer). */
  PARQUET(".parquet"),
  /** One JSON object per line; units are runs of {@code rowsPerUnit} lines. */
  JSONL(".jsonl"),
  /** One JSON array of objects; units are runs of {@code rowsPerUnit} elements. */
  JSON(".json"),
  /** Arrow IPC, file or stream format (what {@code datasets.save_to_disk} writes); one unit per batch. */
  ARROW(".arrow");

  private final String extension;

  RecordContainer(String extension) {
    this.extension = extension;
  }

  public String extension() {
    return extension;
  }

  /** The LMMS Engine {@code data_type} / {@code dataset_format} names: parquet, jsonl, json, arrow. */
  public static RecordContainer fromName(String name) {
    return switch (name.toLowerCase(Locale.ROOT)) {
      case "parquet" -> PARQUET;
      case "jsonl" -> JSONL;
      case "json" -> JSON;
      case "arrow", "ipc", "feather" -> ARROW;
      default -> throw new IllegalArgumentException(
          "unknown data_type '" + name + "' (expected parquet, jsonl, json or arrow)");
    };
  }

  /** Guesses from a file name; a directory is read as parquet files unless it holds .arrow files. */
  public static RecordContainer fromPath(Path path) {
    String n = path.getFileName().toString().toLowerCase(Locale.ROOT);
    for (RecordContainer c : values()) {
      if (n.endsWith(c.extension)) {
        return c;
      }
    }
    if (n.endsWith(".ipc") || n.endsWith(".feather")) {
      return ARROW;
    }
    throw new IllegalArgumentException("cannot tell the record format of " + path
        + " from its name (expected .parquet, .jsonl, .json or .arrow); set data_type");
  }
}
