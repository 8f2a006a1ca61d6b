package ai.bakery.runtime.parallel.fsdp;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.model.bagel.Bagel;
import ai.bakery.model.bagel.BagelOutput;
import ai.bakery.model.bagel.NoiseSource;
import ai.bakery.model.recompute.SegmentedBackward;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.vae.FluxAutoencoder;
import ai.bakery.runtime.train.BatchToTensors;
import ai.bakery.runtime.train.TrainModel;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.List;

/**
 * BAGEL's training forward with randomness tied to the pack instead of libtorch's process-wide generator, which
 * ranks running as threads of one JVM would share (and race on): the posterior mean as latents, and noise drawn
 * from a seed fixed per pack. So a pack gives the same loss whichever thread or process runs it.
 */
final class DeterministicBagel implements TrainModel {
  private final Bagel bagel;
  private final BatchToTensors toTensors;
  private final List<PackedBatch> packs;
  private final SegmentedBackward recompute;

  /** @param recompute install activation recompute of its own (the single-process reference) */
  DeterministicBagel(Bagel bagel, FluxAutoencoder vae, List<PackedBatch> packs, boolean recompute) {
    this.bagel = bagel;
    this.toTensors = new BatchToTensors(vae::encodeMean);
    this.packs = packs;
    this.recompute = recompute ? new SegmentedBackward() : null;
    if (recompute) {
      bagel.setSegmentRunner(this.recompute);
    }
  }

  @Override
  public ParameterStore store() {
    return bagel.store();
  }

  @Override
  public BagelOutput forward(PackedBatch batch, NDManager step) {
    int index = -1;
    for (int i = 0; i < packs.size(); i++) {
      if (packs.get(i) == batch) {
        index = i;
      }
    }
    if (index < 0) {
      throw new IllegalArgumentException("not one of the test's packs");
    }
    return bagel.forward(toTensors.convert(batch, step), step, NoiseSource.fixed(1000 + index));
  }

  @Override
  public void afterBackward(GradientCollector gc) {
    if (recompute != null) {
      recompute.backward(gc);
    }
  }
}
