package ai.bakery.runtime.dashboard;

import java.util.List;

/**
 * What the model drew and said at one sampling step, as the dashboard shows it.
 *
 * @param step the training step whose EMA weights made the samples
 * @param images one per fixed prompt
 * @param question the fixed VLM question (null when none was asked)
 * @param answer the model's answer
 * @param folder where the samples were saved
 */
public record SampleSet(long step, List<Image> images, String question, String answer, String folder) {
  public SampleSet {
    images = List.copyOf(images);
  }

  /**
   * @param prompt the text the image was drawn for
   * @param pngBase64 the PNG, base64 (small: the tiny preset draws 64 x 64)
   * @param file the PNG's file name in {@code folder}
   */
  public record Image(String prompt, String pngBase64, String file) {}
}
