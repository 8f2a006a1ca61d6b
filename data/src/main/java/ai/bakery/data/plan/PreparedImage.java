package ai.bakery.data.plan;

/**
 * An image after its transform: (3, height, width) channel-major, normalised (mean = std = 0.5, so [-1, 1]).
 */
public record PreparedImage(int height, int width, float[] chw) {
  public PreparedImage {
    if (chw.length != 3L * height * width) {
      throw new IllegalArgumentException("expected 3 x " + height + " x " + width + " values, got " + chw.length);
    }
  }
}
