package ai.bakery.data.source;

import ai.bakery.data.video.FrameSamplerConfig;

/**
 * Options every reader honours.
 *
 * @param seed base seed: every random choice for a row (caption, edit span, video frames) is drawn from a
 *     generator seeded by (seed, sample key), so a row reads the same on any rank, worker or resume
 * @param allowUrls whether http(s) image URLs are kept (fetched later by the planner) instead of skipped
 * @param frameSampler how video frames are sampled (the reference's {@code frame_sampler_args})
 */
public record ReadOptions(long seed, boolean allowUrls, FrameSamplerConfig frameSampler) {
  public static final ReadOptions DEFAULTS = new ReadOptions(42, false, FrameSamplerConfig.DEFAULTS);

  public ReadOptions {
    frameSampler = frameSampler == null ? FrameSamplerConfig.DEFAULTS : frameSampler;
  }

  public ReadOptions withSeed(long newSeed) {
    return new ReadOptions(newSeed, allowUrls, frameSampler);
  }

  public ReadOptions withAllowUrls(boolean allow) {
    return new ReadOptions(seed, allow, frameSampler);
  }

  public ReadOptions withFrameSampler(FrameSamplerConfig sampler) {
    return new ReadOptions(seed, allowUrls, sampler);
  }
}
