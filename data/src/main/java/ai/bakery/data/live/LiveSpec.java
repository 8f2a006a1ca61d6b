package ai.bakery.data.live;

import java.util.Objects;
import java.util.function.Supplier;

/**
 * What makes a dataset group live: how its source is created (once, by the loader worker that reads it) and
 * how many records wait between the stream and the packer.
 *
 * @param source creates the source
 * @param buffer the bounded buffer's size in records
 */
public record LiveSpec(Supplier<LiveSource> source, int buffer) {
  public static final int DEFAULT_BUFFER = 256;

  public LiveSpec {
    Objects.requireNonNull(source, "source");
    if (buffer < 1) {
      throw new IllegalArgumentException("live source buffer must be >= 1, got " + buffer);
    }
  }
}
