package ai.bakery.data.live;

import ai.bakery.data.sample.Sample;

/**
 * A sample from a live source with the durable place it was read from.
 *
 * @param sample the mapped sample (bad input never becomes one: it is counted and skipped)
 * @param key the stream it came from: a file relative to the watched folder, the ingest log, a partition
 * @param offset its position in that stream (byte offset of a JSON line, row of a parquet file, Kafka offset)
 * @param next the position right after it, where a resume continues
 */
public record LiveRecord(Sample sample, String key, long offset, long next) {}
