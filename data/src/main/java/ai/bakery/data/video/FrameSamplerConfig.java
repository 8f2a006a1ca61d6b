package ai.bakery.data.video;

/**
 * The reference's {@code frame_sampler_args}: a clip yields between {@code minNumFrames} and
 * {@code maxNumFrames} frames (the count drawn uniformly per sample), one drawn from each of as many
 * equal intervals of the video.
 *
 * @param maxNumFrames most frames per video (the reference's {@code max_num_frames})
 * @param minNumFrames fewest frames per video ({@code min_num_frames})
 * @param sample {@code rand} (a random frame per interval) or {@code middle} (the interval's middle frame)
 */
public record FrameSamplerConfig(int maxNumFrames, int minNumFrames, String sample) {
  public static final FrameSamplerConfig DEFAULTS = new FrameSamplerConfig(12, 8, "rand");

  public FrameSamplerConfig {
    if (minNumFrames < 1) {
      throw new IllegalArgumentException("frame_sampler_args.min_num_frames must be >= 1, got " + minNumFrames);
    }
    if (maxNumFrames < minNumFrames) {
      throw new IllegalArgumentException("frame_sampler_args.max_num_frames (" + maxNumFrames
          + ") must be >= min_num_frames (" + minNumFrames + ")");
    }
    sample = sample == null ? "rand" : sample;
    if (!sample.equals("rand") && !sample.equals("middle")) {
      throw new IllegalArgumentException("frame_sampler_args.sample must be rand or middle, got " + sample);
    }
  }
}
