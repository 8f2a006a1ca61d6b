package ai.bakery.data.group;

import ai.bakery.data.video.FrameSamplerConfig;
import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

/** The reference's {@code frame_sampler_args} as written in a group. */
public record FrameSamplerArgs(int maxNumFrames, int minNumFrames, String sample) {
  @JsonCreator
  public static FrameSamplerArgs of(@JsonProperty("max_num_frames") Integer maxNumFrames,
      @JsonProperty("min_num_frames") Integer minNumFrames, @JsonProperty("sample") String sample) {
    return new FrameSamplerArgs(maxNumFrames == null ? 12 : maxNumFrames, minNumFrames == null ? 8 : minNumFrames,
        sample);
  }

  public FrameSamplerConfig toConfig() {
    return new FrameSamplerConfig(maxNumFrames, minNumFrames, sample);
  }
}
