package ai.bakery.runtime.train;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.model.bagel.BagelInputs;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.function.UnaryOperator;
import org.bytedeco.pytorch.NoGradGuard;

/**
 * Turns a host {@link PackedBatch} into the model's device {@link BagelInputs}. The padded images are encoded by
 * the frozen VAE under no-grad first, as the reference trainer does before calling the model.
 */
public final class BatchToTensors {
  private final UnaryOperator<NDArray> vaeEncode;

  /**
   * @param vaeEncode images (N, 3, H, W) in [-1, 1] to scaled latents (N, z, H/d, W/d) on the same manager;
   *     null when the model has no generation branch
   */
  public BatchToTensors(UnaryOperator<NDArray> vaeEncode) {
    this.vaeEncode = vaeEncode;
  }

  public BagelInputs convert(PackedBatch b, NDManager step) {
    NDArray latent = null;
    int[] dims = b.paddedImagesShape();
    if (dims != null && dims.length == 4 && dims[0] > 0) {
      if (vaeEncode == null) {
        throw new IllegalArgumentException("the pack has " + dims[0] + " VAE images but visual_gen is off");
      }
      NDArray images = step.create(b.paddedImages(), new Shape(dims[0], dims[1], dims[2], dims[3]));
      try (NoGradGuard noGrad = new NoGradGuard()) {
        latent = vaeEncode.apply(images);
      }
    }
    return BagelInputs.of(step, b.sequenceLength(), b.sampleLens(), b.splitLens(), b.attnModes(), b.packedTextIds(),
        b.packedTextIndexes(), b.packedPositionIds(), latent, b.patchifiedVaeLatentShapes(),
        b.packedLatentPositionIds(), b.packedVaeTokenIndexes(), b.packedTimesteps(), b.mseLossIndexes(),
        b.packedVitTokens(), b.vitPatchDim(), b.packedVitPositionIds(), b.packedVitTokenIndexes(),
        b.vitTokenSeqlens(), b.packedLabelIds(), b.ceLossIndexes(), b.ceLossWeights());
  }
}
