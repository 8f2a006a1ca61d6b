/**
 * Checkpoints in two formats that share one folder layout ({@code checkpoint_dir/<7-digit step>/}) and one resume
 * path ({@link ai.bakery.runtime.checkpoint.CheckpointManager#latestComplete}, {@code restore}).
 *
 * <p><b>Single file</b> ({@link ai.bakery.runtime.checkpoint.CheckpointManager#save}): the reference's
 * {@code model.safetensors}, {@code ema.safetensors}, optimizer and JSON states, sealed by {@code manifest.json}.
 *
 * <p><b>Sharded</b> (any world size, written in parallel and asynchronously):
 * <pre>
 *   0000500/
 *     rank-00000-of-00003.safetensors   rank 0's ShardRange slice of every tensor, 1-D, keys "model/...",
 *     rank-00000-of-00003.json          "ema/...", "optimizer/&lt;param&gt;.exp_avg"; its manifest: size, CRC32C,
 *     ...                               full shape + [start, end) + byte offset of each slice, rank-local states
 *     train_state.json scheduler.json optimizer.json data_status.json   step-wide files, written by the committer
 *     COMPLETE                          written last, once every rank's part is durable: CRC32C of the above
 * </pre>
 * Each rank's {@link ai.bakery.runtime.checkpoint.ShardedSaver} copies its slices to host memory (the stall) and
 * writes them on a background thread (fsync, atomic rename, manifest last); the committing rank writes
 * {@code COMPLETE}. A folder without {@code COMPLETE}, or whose sizes or checksums disagree, is never loaded.
 * {@link ai.bakery.runtime.checkpoint.ShardedReader} serves any {@code ShardRange.of(numel, r, w)} of any tensor from
 * the overlapping slices (memory-mapped), so a checkpoint saved by 3 ranks loads into 2, 4 or 1;
 * {@link ai.bakery.runtime.checkpoint.ShardedExport} streams it into the reference's consolidated files.
 */
package ai.bakery.runtime.checkpoint;
