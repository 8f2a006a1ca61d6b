package ai.bakery.data.group;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.nio.file.Path;

/**
 * One dataset's entry in the dataset-info registry (the reference's {@code DATASET_INFO[group][name]}).
 *
 * @param dataDir parquet files (t2i, edit), or the image folder of a JSONL dataset
 * @param numFiles data units the reference expects (informational: units are listed from the files)
 * @param numTotalSamples samples in the dataset (informational, for inspect)
 * @param parquetInfoPath the reference's per-file row-group table (informational: footers are read directly)
 * @param jsonlPath the records of a JSONL dataset
 * @param imagePrefixDir where relative image paths resolve when it is not {@code data_dir}
 */
public record DatasetInfo(Path dataDir, Integer numFiles, Long numTotalSamples, Path parquetInfoPath,
    Path jsonlPath, Path imagePrefixDir) {

  @JsonCreator
  static DatasetInfo bind(@JsonProperty("data_dir") String dataDir, @JsonProperty("num_files") Integer numFiles,
      @JsonProperty("num_total_samples") Long numTotalSamples,
      @JsonProperty("parquet_info_path") String parquetInfoPath, @JsonProperty("jsonl_path") String jsonlPath,
      @JsonProperty("image_prefix_dir") String imagePrefixDir) {
    return new DatasetInfo(path(dataDir), numFiles, numTotalSamples, path(parquetInfoPath), path(jsonlPath),
        path(imagePrefixDir));
  }

  private static Path path(String p) {
    return p == null ? null : Path.of(p);
  }

  /** The same entry with relative paths resolved against the registry file's folder. */
  DatasetInfo resolvedAgainst(Path base) {
    return new DatasetInfo(resolve(base, dataDir), numFiles, numTotalSamples, resolve(base, parquetInfoPath),
        resolve(base, jsonlPath), resolve(base, imagePrefixDir));
  }

  private static Path resolve(Path base, Path p) {
    return p == null ? null : base.resolve(p).normalize();
  }
}
