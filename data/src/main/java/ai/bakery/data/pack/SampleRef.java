package ai.bakery.data.pack;

/**
 * Where a sample was read, enough to read and plan it again identically: a packer's buffered samples are
 * saved in a data position as refs and re-read on restore.
 *
 * @param group the dataset group's index
 * @param slot the shard slice's index in the worker's list for that group
 * @param row the row inside the slice's unit
 * @param pass how many times the worker had already read all its slices of that group (seeds CFG dropout)
 */
public record SampleRef(int group, int slot, long row, long pass) {}
