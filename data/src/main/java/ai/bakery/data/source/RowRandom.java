package ai.bakery.data.source;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * The random generator of one row: seeded by (run seed, sample key) so its choices (caption, edit span,
 * video frames) are the same on every rank, worker and resume, whatever was read before it.
 */
public final class RowRandom {
  private RowRandom() {}

  public static SplittableRandom of(long seed, String key) {
    long h = 0xcbf29ce484222325L; // FNV-1a 64
    for (byte b : key.getBytes(StandardCharsets.UTF_8)) {
      h ^= b & 0xff;
      h *= 0x100000001b3L;
    }
    return new SplittableRandom(h ^ (seed * 0x9E3779B97F4A7C15L));
  }
}
