package ai.bakery.data.source;

import ai.bakery.data.sample.Sample;

/**
 * A sample and exactly where it was read, so a resume can continue at {@code (unit, row + 1)}.
 *
 * @param sample the example; its key is {@link DatasetSource#sampleKey}
 * @param unit the unit it came from
 * @param row its row (record, line) inside the unit, 0-based
 */
public record PositionedSample(Sample sample, ShardUnit unit, long row) {}
