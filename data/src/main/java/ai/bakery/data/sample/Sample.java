package ai.bakery.data.sample;

import java.util.List;

/**
 * One training example as the readers produce it, before tokenisation and packing: an ordered list of
 * text and image items, each saying what the model does with it. Every dataset format (T2I parquet,
 * editing parquet, VLM jsonl, LMMS Engine {@code messages}) maps onto this one shape, so the sequence
 * planner and packer do not know formats.
 *
 * @param key stable identity of the example (dataset, file, row group, row) for logs and the data ledger
 * @param dataset the dataset name from the dataset-info registry
 * @param items the interleaved content, in sequence order
 */
public record Sample(String key, String dataset, List<SampleItem> items) {
  public Sample {
    items = List.copyOf(items);
  }
}
