package ai.bakery.data.source;

import ai.bakery.data.video.FrameSamplerConfig;

/**
 * Options every reader honours.
 *
 * @param seed base seed: every random choice for a row (caption, edit span, video frames) is drawn from a
 *     generator seeded by (seed, sample key), so a row reads the same on any rank, worker or resume
 * @param allowUrls whether http(s) image URLs are kept (fetched later by the planner) instead of skipped
 * @param frameSampler how video frames are sampled (the reference's {@code frame_sampler_args})
 * @param rowsPerUnit records per shard unit for JSONL / JSON files (parquet and Arrow units are row groups
 *     and batches); changing it changes unit boundaries, so keep it fixed across a run and its resumes
 */
public record ReadOptions(long seed, boolean allowUrls, FrameSamplerConfig frameSampler, int rowsPerUnit) {
  public static final int DEFAULT_ROWS_PER_UNIT = 64;
  public static final ReadOptions DEFAULTS =
      new ReadOptions(42, false, FrameSamplerConfig.DEFAULTS, DEFAULT_ROWS_PER_UNIT);

  public ReadOptions {
    frameSampler = frameSampler == null ? FrameSamplerConfig.DEFAULTS : frameSampler;
    if (rowsPerUnit < 1) {
      throw new IllegalArgumentException("rows_per_unit must be >= 1, got " + rowsPerUnit);
    }
  }

  public ReadOptions(long seed, boolean allowUrls, FrameSamplerConfig frameSampler) {
    this(seed, allowUrls, frameSampler, DEFAULT_ROWS_PER_UNIT);
  }

  public ReadOptions withSeed(long newSeed) {
    return new ReadOptions(newSeed, allowUrls, frameSampler, rowsPerUnit);
  }

  public ReadOptions withAllowUrls(boolean allow) {
    return new ReadOptions(seed, allow, frameSampler, rowsPerUnit);
  }

  public ReadOptions withFrameSampler(FrameSamplerConfig sampler) {
    return new ReadOptions(seed, allowUrls, sampler, rowsPerUnit);
  }

  public ReadOptions withRowsPerUnit(int rows) {
    return new ReadOptions(seed, allowUrls, frameSampler, rows);
  }
}
