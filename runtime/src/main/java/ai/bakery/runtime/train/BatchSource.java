package ai.bakery.runtime.train;

import ai.bakery.data.pack.PackedBatch;

/** The packed batches of one rank, in order, with a position a fresh source can be restored to. */
public interface BatchSource extends AutoCloseable {
  /** The next pack; blocks while it is prepared. */
  PackedBatch next();

  /** JSON of where this source stands after the last {@link #next()} (saved in checkpoints). */
  String position();

  /** Samples skipped so far (corrupt, too long, ...). */
  long skippedSamples();

  @Override
  void close();

  /** Opens the source, at its start or (when {@code position} is not null) where a saved position left off. */
  @FunctionalInterface
  interface Factory {
    BatchSource open(String position);
  }
}
