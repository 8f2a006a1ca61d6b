package ai.bakery.data.source;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * The random generator of one row: seeded by (run seed, sample key) so its choices (caption, edit span,
 * video frames) are the same on every rank, worker and resume, whatever was read before it.
 */
public final class RowRandom {
  private RowRandom() {}

  /**
   * The generator of {@code row} of {@code unit}. The file is named relative to the dataset's path, not by the
   * absolute path in the sample key, so the same data draws the same choices wherever it is mounted.
   */
  public static SplittableRandom forRow(DatasetSource source, ShardUnit unit, long row) {
    Path file = Path.of(unit.file()).toAbsolutePath().normalize();
    Path base = source.path().toAbsolutePath().normalize();
    String name = file.startsWith(base) && !file.equals(base) ? base.relativize(file).toString()
        : String.valueOf(file.getFileName());
    return of(source.options().seed(), source.name() + "/" + name + "#" + unit.rowGroup() + ":" + row);
  }

  public static SplittableRandom of(long seed, String key) {
    long h = 0xcbf29ce484222325L; // FNV-1a 64
    for (byte b : key.getBytes(StandardCharsets.UTF_8)) {
      h ^= b & 0xff;
      h *= 0x100000001b3L;
    }
    return new SplittableRandom(h ^ (seed * 0x9E3779B97F4A7C15L));
  }
}
