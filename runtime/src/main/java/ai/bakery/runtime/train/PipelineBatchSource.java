package ai.bakery.runtime.train;

import ai.bakery.data.DataPipeline;
import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.shard.DataPosition;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.function.Supplier;

/** A {@link BatchSource} over the data module's {@link DataPipeline}. */
public final class PipelineBatchSource implements BatchSource {
  private final DataPipeline pipeline;

  public PipelineBatchSource(DataPipeline pipeline) {
    this.pipeline = pipeline;
  }

  /**
   * A factory building a fresh pipeline each time from {@code builder} (its groups, config, tokens and rank
   * already set), restored to the given position when there is one.
   */
  public static Factory factory(Supplier<DataPipeline.Builder> builder) {
    return position -> {
      DataPipeline.Builder b = builder.get();
      if (position != null) {
        b.optRestore(DataPosition.fromJson(position));
      }
      try {
        return new PipelineBatchSource(b.build());
      } catch (IOException e) {
        throw new UncheckedIOException("cannot open the data pipeline: " + e.getMessage(), e);
      }
    };
  }

  @Override
  public PackedBatch next() {
    return pipeline.next();
  }

  @Override
  public String position() {
    return pipeline.position().toJson();
  }

  @Override
  public long skippedSamples() {
    return pipeline.skips().total();
  }

  @Override
  public void close() {
    pipeline.close();
  }
}
