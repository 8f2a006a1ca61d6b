package ai.bakery.data.plan;

import java.awt.image.BufferedImage;

/** Resizes and normalises a decoded image for the VAE or the ViT (a group's image transform). */
@FunctionalInterface
public interface ImagePreparer {
  /**
   * @param image decoded RGB pixels
   * @param imagesInSample images of the sample, which the reference's transform uses to share max_pixels
   */
  PreparedImage prepare(BufferedImage image, int imagesInSample);
}
