package ai.bakery.runtime.collective;

/**
 * One rank's groups on a {@link ParallelDims} mesh for one generation: the whole world, its shard group
 * (reduce-scatter / all-gather of FULL_SHARD units) and its replicate group (all-reduce of the shards across
 * replicas). Every rank must build its mesh with the same dims and prefix; the groups are joined in a fixed
 * order so the blocking rendezvous cannot deadlock.
 */
public final class ProcessMesh implements AutoCloseable {
  private final ParallelDims dims;
  private final int rank;
  private final Collective world;
  private final Collective shard;
  private final Collective replicate;

  private ProcessMesh(ParallelDims dims, int rank, Collective world, Collective shard, Collective replicate) {
    this.dims = dims;
    this.rank = rank;
    this.world = world;
    this.shard = shard;
    this.replicate = replicate;
  }

  public static ProcessMesh create(CollectiveFactory factory, String prefix, long generation, int rank, ParallelDims dims) {
    Collective world = null;
    Collective shard = null;
    try {
      world = factory.create(prefix + "-world", generation, rank, dims.worldSize());
      shard = factory.create(prefix + "-shard" + dims.replicateRank(rank), generation, dims.shardRank(rank),
          dims.shardDegree());
      Collective replicate = factory.create(prefix + "-replicate" + dims.shardRank(rank), generation,
          dims.replicateRank(rank), dims.replicateDegree());
      return new ProcessMesh(dims, rank, world, shard, replicate);
    } catch (RuntimeException e) {
      if (shard != null) {
        shard.close();
      }
      if (world != null) {
        world.close();
      }
      throw e;
    }
  }

  public ParallelDims dims() {
    return dims;
  }

  public int rank() {
    return rank;
  }

  public Collective world() {
    return world;
  }

  public Collective shard() {
    return shard;
  }

  public Collective replicate() {
    return replicate;
  }

  @Override
  public void close() {
    replicate.close();
    shard.close();
    world.close();
  }
}
