package ai.bakery.data.shard;

import ai.bakery.data.source.DatasetFormat;
import ai.bakery.data.source.DatasetSource;

/**
 * A dataset of a group, ready to list and read.
 *
 * @param source where it is
 * @param format how to read it
 * @param numUsedData the reference's num_used_data for it, or null for all of it
 * @param countsFiles whether num_used_data counts files (parquet groups, repeated when too few) or records
 *     (JSONL groups)
 */
public record GroupDataset(DatasetSource source, DatasetFormat format, Long numUsedData, boolean countsFiles) {}
