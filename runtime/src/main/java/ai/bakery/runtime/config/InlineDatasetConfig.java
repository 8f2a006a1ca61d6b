package ai.bakery.runtime.config;

import ai.bakery.model.config.ConfigException;
import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A dataset described inline in the job config, as LMMS Engine's {@code dataset_config} does: either a
 * {@code dataset_path} to a file listing datasets, or a {@code datasets} list; files hold {@code messages}
 * conversations.
 *
 * @param packingStrategy LMMS packing strategy; {@code first_fit} packs up to {@code packingLength} tokens
 */
public record InlineDatasetConfig(
    String datasetType,
    String datasetFormat,
    String datasetPath,
    List<Entry> datasets,
    Processor processorConfig,
    boolean shuffle,
    boolean packing,
    String packingStrategy,
    int packingLength,
    String videoBackend,
    Map<String, Object> extraKwargs) {

  public static final Set<String> FORMATS = Set.of("parquet", "arrow", "json", "jsonl", "yaml", "hf_dataset");
  public static final Set<String> PACKING_STRATEGIES = Set.of("first_fit");

  /** One dataset of the inline list. */
  public record Entry(String path, String dataFolder, String dataType) {
    public Entry {
      if (path == null || path.isBlank()) {
        throw new ConfigException("data.dataset.datasets[].path is required");
      }
      dataFolder = Checks.blankToNull(dataFolder);
      if (dataType != null) {
        Checks.oneOf("data.dataset.datasets[].data_type", dataType, FORMATS);
      }
    }
  }

  /** LMMS Engine's processor settings; {@code processorName} points at the tokenizer / processor files. */
  public record Processor(String processorName, String processorType, Map<String, Object> extraKwargs) {
    public Processor {
      processorName = Checks.blankToNull(processorName);
      processorType = Checks.or(processorType, "bagel");
      Checks.oneOf("data.dataset.processor_config.processor_type", processorType, Set.of("bagel"));
      extraKwargs = extraKwargs == null ? Map.of() : Map.copyOf(extraKwargs);
    }
  }

  /** Binds a config mapping; absent switches take LMMS Engine's defaults (shuffle on, packing off). */
  @JsonCreator
  static InlineDatasetConfig fromJson(
      @JsonProperty("dataset_type") String datasetType,
      @JsonProperty("dataset_format") String datasetFormat,
      @JsonProperty("dataset_path") String datasetPath,
      @JsonProperty("datasets") List<Entry> datasets,
      @JsonProperty("processor_config") Processor processorConfig,
      @JsonProperty("shuffle") Boolean shuffle,
      @JsonProperty("packing") Boolean packing,
      @JsonProperty("packing_strategy") String packingStrategy,
      @JsonProperty("packing_length") Integer packingLength,
      @JsonProperty("video_backend") String videoBackend,
      @JsonProperty("extra_kwargs") Map<String, Object> extraKwargs) {
    return new InlineDatasetConfig(datasetType, datasetFormat, datasetPath, datasets, processorConfig,
        shuffle == null || shuffle, packing != null && packing, packingStrategy,
        packingLength == null ? 32000 : packingLength, videoBackend, extraKwargs);
  }

  /** This dataset config as LMMS Engine's {@code dataset_config} mapping (snake_case keys), for the data readers. */
  public com.fasterxml.jackson.databind.JsonNode toJson() {
    return ConfigBinder.MAPPER.valueToTree(this);
  }

  public InlineDatasetConfig {
    String at = "data.dataset.";
    datasetType = Checks.or(datasetType, "bagel_iterable");
    datasetFormat = Checks.or(datasetFormat, "jsonl");
    Checks.oneOf(at + "dataset_format", datasetFormat, FORMATS);
    datasetPath = Checks.blankToNull(datasetPath);
    datasets = datasets == null ? List.of() : List.copyOf(datasets);
    if (datasetPath == null && datasets.isEmpty()) {
      throw new ConfigException(at + "needs dataset_path or a non-empty datasets list");
    }
    if (packing) {
      Checks.oneOf(at + "packing_strategy", Checks.or(packingStrategy, "first_fit"), PACKING_STRATEGIES);
      Checks.positive(at + "packing_length", packingLength);
    }
    extraKwargs = extraKwargs == null ? Map.of() : Map.copyOf(extraKwargs);
  }
}
