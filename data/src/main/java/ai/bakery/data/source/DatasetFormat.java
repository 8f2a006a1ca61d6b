package ai.bakery.data.source;

import java.io.IOException;
import java.util.List;

/**
 * A dataset file format mapped onto {@link ai.bakery.data.sample.Sample}s. Implementations are stateless and
 * thread-safe; all per-read state lives in the {@link SampleCursor}.
 */
public interface DatasetFormat {

  /** The format's name in configs and logs (e.g. {@code t2i_parquet}). */
  String name();

  /**
   * The dataset's shard units in a stable order (sorted file names, then row groups). Reads only metadata
   * (parquet footers, line counts).
   *
   * @throws IOException naming the path when the dataset is missing or a file's metadata is unreadable
   */
  List<ShardUnit> units(DatasetSource source) throws IOException;

  /**
   * Opens one unit at {@code startRow} (0 = from its start). Rows that cannot become a sample are counted in
   * {@code skips} and passed over.
   *
   * @throws IOException naming the file when the unit itself cannot be opened
   */
  SampleCursor open(DatasetSource source, ShardUnit unit, long startRow, SkipCounter skips) throws IOException;
}
