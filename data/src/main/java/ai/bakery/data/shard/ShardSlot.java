package ai.bakery.data.shard;

import ai.bakery.data.source.ShardUnit;

/**
 * One unit as dealt to a worker, read from row 0 up to {@code endRow} (less than the unit's rows when
 * {@code num_used_data} ends inside it).
 *
 * @param dataset index of the dataset within its group
 * @param unit the shard unit
 * @param endRow rows {@code [0, endRow)} are used
 */
public record ShardSlot(int dataset, ShardUnit unit, long endRow) {}
