package ai.bakery.model.attention;

import java.util.Arrays;

/**
 * Where the samples and splits of a packed sequence lie. {@code splitLens}/{@code modes} list every split of
 * every sample in order; the splits of sample i sum to {@code sampleLens[i]}.
 */
public record PackLayout(int[] sampleLens, int[] splitLens, AttnMode[] modes) {
  public PackLayout {
    if (splitLens.length != modes.length) {
      throw new IllegalArgumentException("split_lens has " + splitLens.length + " entries, attn_modes " + modes.length);
    }
    if (Arrays.stream(splitLens).sum() != Arrays.stream(sampleLens).sum()) {
      throw new IllegalArgumentException("split_lens sum to " + Arrays.stream(splitLens).sum()
          + " but sample_lens to " + Arrays.stream(sampleLens).sum());
    }
  }

  public int totalLength() {
    return Arrays.stream(sampleLens).sum();
  }
}
