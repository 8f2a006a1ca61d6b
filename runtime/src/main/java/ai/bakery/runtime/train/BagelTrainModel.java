package ai.bakery.runtime.train;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.model.bagel.Bagel;
import ai.bakery.model.bagel.BagelInputs;
import ai.bakery.model.bagel.BagelOutput;
import ai.bakery.model.bagel.NoiseSource;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.vae.FluxAutoencoder;
import ai.bakery.runtime.metrics.FlopCounter;
import ai.bakery.model.recompute.SegmentedBackward;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;

/** BAGEL as a {@link TrainModel}: host pack -> inputs (VAE-encoded under no-grad) -> packed forward. */
public final class BagelTrainModel implements TrainModel {
  private final Bagel bagel;
  private final BatchToTensors toTensors;
  private final SegmentedBackward recompute;

  /** @param vae the frozen autoencoder, or null when the model has no generation branch */
  public BagelTrainModel(Bagel bagel, FluxAutoencoder vae) {
    this(bagel, vae, false);
  }

  /**
   * @param recompute activation recompute ({@code gradient_checkpointing}): decoder layers, ViT layers and
   *     the connector keep only their inputs in forward and are run again in backward
   */
  public BagelTrainModel(Bagel bagel, FluxAutoencoder vae, boolean recompute) {
    this.bagel = bagel;
    this.toTensors = new BatchToTensors(vae == null ? null : vae::encode);
    this.recompute = recompute ? new SegmentedBackward() : null;
    if (recompute) {
      bagel.setSegmentRunner(this.recompute);
    }
  }

  @Override
  public void afterBackward(GradientCollector gc) {
    if (recompute != null) {
      recompute.backward(gc);
    }
  }

  @Override
  public void discardPending() {
    if (recompute != null) {
      recompute.discard();
    }
  }

  public Bagel bagel() {
    return bagel;
  }

  @Override
  public ParameterStore store() {
    return bagel.store();
  }

  @Override
  public BagelOutput forward(PackedBatch batch, NDManager step) {
    BagelInputs in = toTensors.convert(batch, step);
    // libtorch's generator, seeded by the trainer for every micro-batch
    return bagel.forward(in, step, NoiseSource.engine());
  }

  @Override
  public FlopCounter flops() {
    return FlopCounter.of(bagel.config().llm());
  }
}
