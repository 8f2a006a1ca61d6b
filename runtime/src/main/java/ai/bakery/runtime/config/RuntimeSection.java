package ai.bakery.runtime.config;

/**
 * Process-level settings.
 *
 * @param seed base seed of the run (reference {@code global_seed}); a rank uses {@code seed * world + rank}
 * @param numWorkers data loader threads per rank (reference {@code num_workers})
 * @param threads intra-op compute threads; 0 lets libtorch choose
 */
public record RuntimeSection(long seed, int numWorkers, int threads) {
  public static final RuntimeSection DEFAULTS = new RuntimeSection(4396, 4, 0);

  public RuntimeSection {
    Checks.nonNegative("runtime.num_workers", numWorkers);
    Checks.nonNegative("runtime.threads", threads);
  }
}
