package ai.bakery.runtime.config;

import java.util.Set;

/**
 * How parameters are sharded across ranks (the reference's FSDP arguments). {@code HYBRID_SHARD} shards within
 * groups of {@code numShard} ranks and replicates across {@code numReplicate} groups.
 */
public record ParallelSection(
    String shardingStrategy, int numShard, int numReplicate, String backwardPrefetch, boolean cpuOffload) {

  public static final Set<String> STRATEGIES =
      Set.of("FULL_SHARD", "SHARD_GRAD_OP", "HYBRID_SHARD", "_HYBRID_SHARD_ZERO2", "NO_SHARD");
  public static final Set<String> PREFETCH = Set.of("BACKWARD_PRE", "BACKWARD_POST", "NO_PREFETCH");
  public static final ParallelSection DEFAULTS = new ParallelSection("HYBRID_SHARD", 8, 1, "BACKWARD_PRE", false);

  public ParallelSection {
    Checks.oneOf("parallel.sharding_strategy", shardingStrategy, STRATEGIES);
    Checks.positive("parallel.num_shard", numShard);
    Checks.positive("parallel.num_replicate", numReplicate);
    Checks.oneOf("parallel.backward_prefetch", backwardPrefetch, PREFETCH);
  }
}
