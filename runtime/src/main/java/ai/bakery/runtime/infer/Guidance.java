package ai.bakery.runtime.infer;

import ai.djl.ndarray.NDArray;

/**
 * Classifier-free guidance of velocity predictions as the reference's {@code _forward_flow} combines them: text
 * guidance first, then image guidance, then a renormalisation that keeps the guided velocity's norm at most the
 * conditional one's (times 1, at least {@code renormMin} times). As in the reference, nothing is guided when the
 * text scale is <= 1, whatever the image scale.
 */
final class Guidance {
  private static final double EPS = 1e-8;

  private Guidance() {}

  /**
   * @param v (N, D) prediction with every condition
   * @param vNoText prediction without the text condition (used when {@code textScale > 1})
   * @param vNoImage prediction without the image condition (used when {@code imageScale > 1}), may be null
   *     otherwise
   */
  static NDArray combine(NDArray v, NDArray vNoText, NDArray vNoImage, double textScale, double imageScale,
      double renormMin, String renormType) {
    if (textScale <= 1.0) {
      return v;
    }
    NDArray textGuided = vNoText.add(v.sub(vNoText).mul(textScale));
    if ("text_channel".equals(renormType)) {
      NDArray scale = clamp(rowNorm(v).div(rowNorm(textGuided).add(EPS)), renormMin);
      NDArray vText = textGuided.mul(scale);
      return imageScale > 1.0 ? vNoImage.add(vText.sub(vNoImage).mul(imageScale)) : vText;
    }
    NDArray guided = imageScale > 1.0 ? vNoImage.add(textGuided.sub(vNoImage).mul(imageScale)) : textGuided;
    NDArray scale = "channel".equals(renormType)
        ? clamp(rowNorm(v).div(rowNorm(guided).add(EPS)), renormMin)
        : clamp(v.square().sum().sqrt().div(guided.square().sum().sqrt().add(EPS)), renormMin);
    return guided.mul(scale);
  }

  /** (N, 1) Euclidean norm of each row. */
  private static NDArray rowNorm(NDArray x) {
    return x.square().sum(new int[] {-1}, true).sqrt();
  }

  private static NDArray clamp(NDArray scale, double min) {
    return scale.clip(min, 1.0);
  }
}
