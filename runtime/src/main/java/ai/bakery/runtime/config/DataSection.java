package ai.bakery.runtime.config;

import ai.bakery.model.config.ConfigException;

/**
 * Where samples come from and how they are packed: the reference's {@code dataset_config_file} (dataset groups
 * YAML) or an inline LMMS-style {@code dataset}, plus the packer's token budgets.
 *
 * @param dataSeed seed for shard shuffling and per-sample random choices (reference {@code data_seed})
 * @param prefetchFactor packed batches each loader worker prepares ahead
 */
public record DataSection(
    String datasetConfigFile, InlineDatasetConfig dataset, PackingOptions packing, long dataSeed, int prefetchFactor) {

  public static final DataSection DEFAULTS = new DataSection(null, null, PackingOptions.DEFAULTS, 42, 2);

  public DataSection {
    datasetConfigFile = Checks.blankToNull(datasetConfigFile);
    packing = packing == null ? PackingOptions.DEFAULTS : packing;
    Checks.positive("data.prefetch_factor", prefetchFactor);
    if (datasetConfigFile != null && dataset != null) {
      throw new ConfigException("data: give either dataset_config_file or an inline dataset, not both");
    }
  }

  public boolean hasSource() {
    return datasetConfigFile != null || dataset != null;
  }
}
