package ai.bakery.runtime.collective;

import java.util.ArrayList;
import java.util.List;

/**
 * The 2-D data-parallel mesh of HYBRID_SHARD: {@code replicate x shard} ranks, rank = replica * shard +
 * shardIndex, so the ranks of one shard group are contiguous (one node's GPUs when shard = GPUs per node).
 * FULL_SHARD is {@code shard == world}; plain data parallel is {@code shard == 1}.
 */
public record ParallelDims(int worldSize, int shardDegree) {
  public ParallelDims {
    if (worldSize < 1) {
      throw new IllegalArgumentException("worldSize must be at least 1, got " + worldSize);
    }
    if (shardDegree < 1 || shardDegree > worldSize || worldSize % shardDegree != 0) {
      throw new IllegalArgumentException("shardDegree " + shardDegree + " must divide worldSize " + worldSize);
    }
  }

  public int replicateDegree() {
    return worldSize / shardDegree;
  }

  /** This rank's position inside its shard group. */
  public int shardRank(int rank) {
    check(rank);
    return rank % shardDegree;
  }

  /** Which replica (shard group) this rank belongs to, and its rank inside its replicate group. */
  public int replicateRank(int rank) {
    check(rank);
    return rank / shardDegree;
  }

  /** The ranks holding the shards of one replica with {@code rank}, in shard order. */
  public List<Integer> shardGroup(int rank) {
    int first = replicateRank(rank) * shardDegree;
    List<Integer> out = new ArrayList<>(shardDegree);
    for (int i = 0; i < shardDegree; i++) {
      out.add(first + i);
    }
    return out;
  }

  /** The ranks holding the same shard as {@code rank} in every replica, in replica order. */
  public List<Integer> replicateGroup(int rank) {
    int shard = shardRank(rank);
    List<Integer> out = new ArrayList<>(replicateDegree());
    for (int r = 0; r < replicateDegree(); r++) {
      out.add(r * shardDegree + shard);
    }
    return out;
  }

  private void check(int rank) {
    if (rank < 0 || rank >= worldSize) {
      throw new IllegalArgumentException("rank " + rank + " outside [0, " + worldSize + ")");
    }
  }
}
