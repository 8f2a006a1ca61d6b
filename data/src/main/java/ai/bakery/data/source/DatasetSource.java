package ai.bakery.data.source;

import java.nio.file.Path;
import java.util.Objects;

/**
 * One dataset as a reader needs it: where its records are and where its media live.
 *
 * <ul>
 *   <li>T2I / editing parquet: {@code path} is the directory of {@code .parquet} files ({@code data_dir});
 *       {@code dataRoot} is unused (images are bytes in the rows).
 *   <li>VLM JSONL: {@code path} is the {@code .jsonl} file ({@code jsonl_path}); {@code dataRoot} is the
 *       image folder ({@code data_dir}).
 *   <li>LMMS Engine messages: {@code path} is a json / jsonl / parquet / arrow file ({@code path});
 *       {@code dataRoot} is {@code data_folder}. A yaml list is expanded first by
 *       {@link ai.bakery.data.source.messages.MessagesYaml}.
 * </ul>
 *
 * @param name the dataset name (first part of every sample key)
 * @param path the records: a directory of parquet files or one file
 * @param dataRoot the folder media paths resolve in; paths never escape it; null when rows carry bytes
 * @param options reading options shared by all formats
 */
public record DatasetSource(String name, Path path, Path dataRoot, ReadOptions options) {
  public DatasetSource {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(path, "path of dataset " + name);
    options = options == null ? ReadOptions.DEFAULTS : options;
  }

  /**
   * The key of {@code row} of {@code unit}: {@code name/file#rowGroup:row} with the file named relative to
   * {@link #path} (its own name when it lies elsewhere). Per-row random choices (caption, edit span, timestep,
   * CFG dropout) are drawn from it, so it must not depend on where the data is mounted.
   */
  public String sampleKey(ShardUnit unit, long row) {
    Path file = Path.of(unit.file()).toAbsolutePath().normalize();
    Path base = path.toAbsolutePath().normalize();
    String relative = file.startsWith(base) && !file.equals(base) ? base.relativize(file).toString()
        : String.valueOf(file.getFileName());
    return name + "/" + relative + "#" + unit.rowGroup() + ":" + row;
  }
}
