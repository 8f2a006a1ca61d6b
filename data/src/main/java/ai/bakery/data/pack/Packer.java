package ai.bakery.data.pack;

/** Builds packs from a {@link SampleFeed} by one strategy; one instance per loader worker, single-threaded. */
public interface Packer {
  /** The next pack (blocks on reading; the feed repeats forever, so there always is one). */
  PackedBatch next();

  /** The state after the last pack returned, for a data position. */
  PackerState state();
}
