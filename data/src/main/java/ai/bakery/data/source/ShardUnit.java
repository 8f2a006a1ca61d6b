package ai.bakery.data.source;

import java.util.Objects;

/**
 * The unit of deterministic sharding: one parquet row group, or one whole file (JSONL, JSON, Arrow IPC, or a
 * parquet file read whole). Units are listed by {@link DatasetFormat#units} in a stable order and dealt to
 * ranks and workers; a reader reads one unit from a row offset, so a resume position is (unit, row).
 *
 * @param dataset the dataset name from the dataset registry
 * @param file the file path as listed (absolute or relative to the working directory)
 * @param rowGroup the parquet row group, or -1 when the unit is the whole file
 * @param rowCount rows (records, lines) in the unit
 */
public record ShardUnit(String dataset, String file, int rowGroup, long rowCount) {
  public ShardUnit {
    Objects.requireNonNull(dataset, "dataset");
    Objects.requireNonNull(file, "file");
    if (rowGroup < -1) {
      throw new IllegalArgumentException("rowGroup must be >= -1, got " + rowGroup + " for " + file);
    }
    if (rowCount < 0) {
      throw new IllegalArgumentException("rowCount must be >= 0, got " + rowCount + " for " + file);
    }
  }

  /** Where a row of this unit is, for messages: {@code dataset/file#rowGroup:row} with the file as listed. */
  public String key(long row) {
    return dataset + "/" + file + "#" + rowGroup + ":" + row;
  }

  @Override
  public String toString() {
    return dataset + "/" + file + "#" + rowGroup + " (" + rowCount + " rows)";
  }
}
