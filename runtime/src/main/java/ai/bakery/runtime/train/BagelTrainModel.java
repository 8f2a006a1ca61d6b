package ai.bakery.runtime.train;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.model.bagel.Bagel;
import ai.bakery.model.bagel.BagelInputs;
import ai.bakery.model.bagel.BagelOutput;
import ai.bakery.model.bagel.NoiseSource;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.vae.FluxAutoencoder;
import ai.bakery.runtime.metrics.FlopCounter;
import ai.djl.ndarray.NDManager;

/** BAGEL as a {@link TrainModel}: host pack -> inputs (VAE-encoded under no-grad) -> packed forward. */
public final class BagelTrainModel implements TrainModel {
  private final Bagel bagel;
  private final BatchToTensors toTensors;

  /** @param vae the frozen autoencoder, or null when the model has no generation branch */
  public BagelTrainModel(Bagel bagel, FluxAutoencoder vae) {
    this.bagel = bagel;
    this.toTensors = new BatchToTensors(vae == null ? null : vae::encode);
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
