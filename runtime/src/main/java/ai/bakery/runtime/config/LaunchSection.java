package ai.bakery.runtime.config;

/**
 * Where this process sits in a multi-process job: torchrun's {@code --nnodes --node_rank --nproc_per_node
 * --master_addr --master_port}, accepted so a reference launch line can be pasted as is.
 */
public record LaunchSection(int nnodes, int nodeRank, int nprocPerNode, String masterAddr, int masterPort) {
  public static final LaunchSection DEFAULTS = new LaunchSection(1, 0, 1, "127.0.0.1", 29500);

  public LaunchSection {
    Checks.positive("launch.nnodes", nnodes);
    Checks.nonNegative("launch.node_rank", nodeRank);
    Checks.positive("launch.nproc_per_node", nprocPerNode);
    masterAddr = Checks.or(Checks.blankToNull(masterAddr), "127.0.0.1");
    if (nodeRank >= nnodes) {
      throw new ai.bakery.model.config.ConfigException(
          "launch.node_rank (" + nodeRank + ") must be < nnodes (" + nnodes + ")");
    }
    if (masterPort < 1 || masterPort > 65535) {
      throw new ai.bakery.model.config.ConfigException("launch.master_port must be in 1..65535, got " + masterPort);
    }
  }

  public int worldSize() {
    return nnodes * nprocPerNode;
  }
}
