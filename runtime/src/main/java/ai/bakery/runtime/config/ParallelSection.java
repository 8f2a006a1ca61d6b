package ai.bakery.runtime.config;

import java.util.Set;

/**
 * How parameters are sharded across ranks (the reference's FSDP arguments). {@code HYBRID_SHARD} shards within
 * groups of {@code numShard} ranks and replicates across {@code numReplicate} groups.
 *
 * @param peerCopy FULL_SHARD/HYBRID_SHARD cluster workers: after every committed step each rank also keeps a copy
 *     of its right neighbour's shard (weights, AdamW moments, EMA), so a lost worker's shard is rebuilt from the
 *     survivors' memory instead of a checkpoint. Costs one more shard of the state per rank (about
 *     {@code 16 bytes x parameters / shard size}) and, per step, an all-gather of the state shard over
 *     the shard group. Off: a lost worker's shard comes from the latest checkpoint.
 */
public record ParallelSection(
    String shardingStrategy, int numShard, int numReplicate, String backwardPrefetch, boolean cpuOffload,
    boolean peerCopy) {

  public static final Set<String> STRATEGIES =
      Set.of("FULL_SHARD", "SHARD_GRAD_OP", "HYBRID_SHARD", "_HYBRID_SHARD_ZERO2", "NO_SHARD");
  public static final Set<String> PREFETCH = Set.of("BACKWARD_PRE", "BACKWARD_POST", "NO_PREFETCH");
  public static final ParallelSection DEFAULTS = new ParallelSection("HYBRID_SHARD", 8, 1, "BACKWARD_PRE", false,
      true);

  public ParallelSection {
    Checks.oneOf("parallel.sharding_strategy", shardingStrategy, STRATEGIES);
    Checks.positive("parallel.num_shard", numShard);
    Checks.positive("parallel.num_replicate", numReplicate);
    Checks.oneOf("parallel.backward_prefetch", backwardPrefetch, PREFETCH);
  }

  /** With peer copies on (the default). */
  public ParallelSection(String shardingStrategy, int numShard, int numReplicate, String backwardPrefetch,
      boolean cpuOffload) {
    this(shardingStrategy, numShard, numReplicate, backwardPrefetch, cpuOffload, true);
  }
}
