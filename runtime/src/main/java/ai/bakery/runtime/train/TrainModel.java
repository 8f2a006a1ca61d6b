package ai.bakery.runtime.train;

import ai.bakery.data.pack.PackedBatch;
import ai.bakery.model.bagel.BagelOutput;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.runtime.metrics.FlopCounter;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;

/**
 * The model as the trainer drives it: trainable weights in one store, and a forward from a host pack to the
 * unreduced loss terms. {@link BagelTrainModel} is BAGEL's; tests use small stand-ins.
 */
public interface TrainModel {
  /** Every weight the optimizer, EMA and checkpoints see, by checkpoint name. */
  ParameterStore store();

  /**
   * One micro-batch forward. Every array it creates must belong to {@code step} (closed by the caller right
   * after backward). Randomness (noise, posterior samples) must come from libtorch's generator, which the caller
   * seeds per micro-batch, so that a resumed run draws the same numbers.
   */
  BagelOutput forward(PackedBatch batch, NDManager step);

  /**
   * Called right after {@code gc.backward(loss)} inside the micro-batch's scope: a model whose checkpointed
   * segments kept only their inputs (activation recompute) back-propagates through them here.
   */
  default void afterBackward(GradientCollector gc) {}

  /**
   * Drops what forwards left for {@link #afterBackward} when it will not run (the micro-batch had no loss, or
   * failed before backward), so that the next micro-batch starts clean.
   */
  default void discardPending() {}

  /** FLOPs per token for MFU, or null when unknown. */
  default FlopCounter flops() {
    return null;
  }
}
