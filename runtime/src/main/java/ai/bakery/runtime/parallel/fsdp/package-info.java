/**
 * FULL_SHARD and HYBRID_SHARD as FSDP does them, applied to the single-device BAGEL from outside.
 *
 * <ul>
 *   <li>{@link ai.bakery.runtime.parallel.fsdp.ShardedState}: a rank's state. Every parameter's flattened data
 *       is split by {@link ai.bakery.runtime.parallel.ShardRange}; the rank keeps its fp32 slice of the weight,
 *       the gradient, both AdamW moments and the EMA. Parameters are grouped into units (one per checkpointed
 *       segment: decoder layer, ViT layer, connector; plus the root unit of everything else), each one flat
 *       buffer, so a gather is one all-gather and a gradient one reduce-scatter.
 *   <li>{@link ai.bakery.runtime.parallel.fsdp.ShardedTrainModel}: gathers a segment's unit right before it runs
 *       and frees it after, in the forward and again for its recompute in backward (heard through
 *       {@link ai.bakery.model.recompute.SegmentListener}), reduce-scatters right after the segment's backward.
 *       The root unit is gathered from a step's first forward to the gradient sync. Ranks agree per micro-batch
 *       on the chains anyone runs and stand in for what they skip, so collectives always match.
 *   <li>{@link ai.bakery.runtime.parallel.fsdp.ShardedGradientSync}: the
 *       {@link ai.bakery.runtime.parallel.GradientSync} of a {@link ai.bakery.runtime.train.TrainStep} (replica
 *       average, global norm summed over the shard group, clip and clear on shards); the update is AdamW and EMA
 *       on the shards ({@link ai.bakery.runtime.parallel.fsdp.Fsdp.Rank#update}).
 *   <li>Starting without the whole model in memory ({@link ai.bakery.runtime.parallel.fsdp.ShardedStart}):
 *       {@link ai.bakery.runtime.parallel.fsdp.PreSharder} slices (or just frees) each parameter as the model
 *       creates it; {@link ai.bakery.runtime.parallel.fsdp.ShardedLoader} reads each slice's element range from the
 *       memory-mapped safetensors files (released weights), {@link ai.bakery.runtime.parallel.fsdp.ShardedInit}
 *       draws seeded initial weights one parameter at a time into the shards (a preset), equal to the slices of a
 *       full initialisation.
 *   <li>{@link ai.bakery.runtime.parallel.fsdp.ShardedRankTrainer}: one rank of a sharded job, driven like the
 *       data-parallel {@link ai.bakery.runtime.parallel.RankTrainer};
 *       {@link ai.bakery.runtime.parallel.fsdp.ShardedCheckpointParts} maps its state to the sharded checkpoint.
 * </ul>
 */
package ai.bakery.runtime.parallel.fsdp;
