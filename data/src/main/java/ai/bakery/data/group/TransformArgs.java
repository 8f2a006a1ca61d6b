package ai.bakery.data.group;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * The reference's {@code image_transform_args} / {@code vit_image_transform_args}: keep the aspect ratio,
 * bound the long edge by {@code max_image_size} and the short edge by {@code min_image_size}, round both to a
 * multiple of {@code image_stride}, cap the pixel count at {@code max_pixels}, normalise with mean and std.
 */
public record TransformArgs(int imageStride, int maxImageSize, int minImageSize, long maxPixels,
    List<Double> imageMean, List<Double> imageStd) {

  /** The reference's default max_pixels: 14 * 14 * 9 * 1024. */
  public static final long DEFAULT_MAX_PIXELS = 14L * 14 * 9 * 1024;

  public TransformArgs {
    if (imageStride <= 0) {
      throw new IllegalArgumentException("image_stride must be positive, got " + imageStride);
    }
    if (maxImageSize < imageStride) {
      throw new IllegalArgumentException("max_image_size (" + maxImageSize + ") must be >= image_stride ("
          + imageStride + ")");
    }
    if (minImageSize <= 0 || minImageSize > maxImageSize) {
      throw new IllegalArgumentException("min_image_size must be in (0, max_image_size], got " + minImageSize);
    }
    if (maxPixels <= 0) {
      throw new IllegalArgumentException("max_pixels must be positive, got " + maxPixels);
    }
    imageMean = List.copyOf(imageMean);
    imageStd = List.copyOf(imageStd);
    if (imageMean.size() != 3 || imageStd.size() != 3) {
      throw new IllegalArgumentException("image_mean and image_std need 3 values each");
    }
  }

  @JsonCreator
  public static TransformArgs of(
      @JsonProperty(value = "image_stride", required = true) Integer imageStride,
      @JsonProperty(value = "max_image_size", required = true) Integer maxImageSize,
      @JsonProperty(value = "min_image_size", required = true) Integer minImageSize,
      @JsonProperty("max_pixels") Long maxPixels,
      @JsonProperty("image_mean") List<Double> imageMean,
      @JsonProperty("image_std") List<Double> imageStd) {
    return new TransformArgs(imageStride, maxImageSize, minImageSize,
        maxPixels == null ? DEFAULT_MAX_PIXELS : maxPixels,
        imageMean == null ? List.of(0.5, 0.5, 0.5) : imageMean,
        imageStd == null ? List.of(0.5, 0.5, 0.5) : imageStd);
  }
}
