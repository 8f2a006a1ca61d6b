package ai.bakery.actors.data;

import ai.bakery.data.DataConfig;
import ai.bakery.data.DataPipeline;
import ai.bakery.data.group.PipelineFactory;
import ai.bakery.data.pack.PackedBatch;
import ai.bakery.data.pack.PackedBatchArrow;
import ai.bakery.data.shard.DataPosition;
import ai.bakery.data.shard.GroupSpec;
import ai.bakery.data.text.TextTokenizer;
import ai.bakery.model.config.BagelConfig;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.ModelSection;
import ai.bakery.runtime.train.TrainJob;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * A data shard backed by the job's data pipeline: shard {@code i} of {@code M} reads what data rank {@code i}
 * of {@code M} reads in a single-host run (the same deal of dataset units), packs it, and yields each pack
 * as Arrow IPC bytes. Its position is the pipeline's {@link DataPosition} as JSON, so a shard reopened at a
 * position yields exactly the packs that would have come next.
 */
public final class PipelineShardSource implements BatchSource {
  /** Shard names are {@code shard-<index>}. */
  public static final String PREFIX = "shard-";

  private final TextTokenizer tokenizer;
  private final DataPipeline pipeline;
  private final BufferAllocator allocator = new RootAllocator();

  private PipelineShardSource(TextTokenizer tokenizer, DataPipeline pipeline) {
    this.tokenizer = tokenizer;
    this.pipeline = pipeline;
  }

  public static String shardName(int index) {
    return PREFIX + index;
  }

  /** The index in a shard name, checked against the number of shards. */
  public static int shardIndex(String shard, int shards) {
    if (shard == null || !shard.startsWith(PREFIX)) {
      throw new IllegalArgumentException("data shard name '" + shard + "' is not " + PREFIX + "<index>");
    }
    int index;
    try {
      index = Integer.parseInt(shard.substring(PREFIX.length()));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("data shard name '" + shard + "' is not " + PREFIX + "<index>");
    }
    if (index < 0 || index >= shards) {
      throw new IllegalArgumentException("data shard " + shard + " is outside the job's " + shards + " shards");
    }
    return index;
  }

  /** Opens shard {@code shard} (of {@code shards}) of {@code config}'s data at {@code position} ("" = start). */
  public static Factory factory(JobConfig config, int shards) {
    if (shards < 1) {
      throw new IllegalArgumentException("data shards must be >= 1, got " + shards);
    }
    return (shard, position) -> open(config, shardIndex(shard, shards), shards, position);
  }

  static PipelineShardSource open(JobConfig config, int index, int shards, String position) throws IOException {
    ModelSection ms = config.model();
    Path modelDir = TrainJob.modelDir(ms);
    BagelConfig cfg = TrainJob.bagelConfig(ms, modelDir); // also for a job from separate parts (llm_path ...)
    TextTokenizer tokenizer = TrainJob.tokenizer(ms, modelDir);
    try {
      DataConfig dataConfig = TrainJob.dataConfig(config.data(), ms, cfg, config.runtime().numWorkers());
      if (config.data().dataset() != null) {
        dataConfig = PipelineFactory.lmmsDataConfig(config.data().dataset().toJson(), dataConfig, "data.dataset");
      }
      List<GroupSpec> groups = TrainJob.groups(config.data(), dataConfig, tokenizer);
      DataPipeline.Builder b = DataPipeline.builder().setGroups(groups).setConfig(dataConfig)
          .setTokens(tokenizer.specialTokens()).setRank(index, shards);
      if (position != null && !position.isEmpty()) {
        b.optRestore(DataPosition.fromJson(position));
      }
      return new PipelineShardSource(tokenizer, b.build());
    } catch (IOException | RuntimeException e) {
      tokenizer.close();
      throw e;
    }
  }

  /** The pipeline never runs dry (each group starts its next pass), so this always yields a pack. */
  @Override
  public Optional<byte[]> next() {
    PackedBatch batch = pipeline.next();
    return Optional.of(PackedBatchArrow.toIpcBytes(batch, allocator));
  }

  @Override
  public String position() {
    return pipeline.position().toJson();
  }

  @Override
  public void close() {
    pipeline.close();
    tokenizer.close();
    allocator.close();
  }
}
