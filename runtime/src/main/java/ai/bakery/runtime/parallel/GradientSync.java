package ai.bakery.runtime.parallel;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.runtime.optim.GradClipper;
import ai.bakery.runtime.optim.Gradients;
import java.util.Collection;

/**
 * How a rank's gradients become the group's, between the last backward of a step and the clip. A
 * {@link ai.bakery.runtime.train.TrainStep} calls, once per step and in this order: {@link #synchronize},
 * {@link #meanOverRanks} (the step's losses), {@link #globalSquaredNorm}, then {@link #scale} when clipping, and
 * {@link #clear} after the update (or when the step is discarded).
 *
 * <p>Replicated gradients (single process, DDP) keep the defaults below. A sharded implementation, where each
 * rank holds only part of the averaged gradient, overrides {@link #globalSquaredNorm} to sum the ranks' squares
 * (the clip must see the norm of the whole gradient) and {@link #scale}/{@link #clear} for the gradient it holds.
 */
public interface GradientSync {
  /** A single process: nothing to exchange. */
  GradientSync LOCAL = params -> {};

  /**
   * Turns this rank's accumulated gradients into the average over ranks (in place, or into the shard this rank
   * holds). Every rank calls it once per step with the same parameters in the same order.
   */
  void synchronize(Collection<Parameter> params);

  /**
   * The mean over ranks of each value (the step's losses, for the log and the finite check), so that every rank
   * logs and decides the same; the values themselves for a single process.
   */
  default double[] meanOverRanks(double... values) {
    return values;
  }

  /**
   * The squared L2 norm of the whole synchronised gradient of the group: NaN or infinity when any part holds
   * one. Replicated gradients: this rank's. Sharded gradients: the sum over ranks of each shard's squares.
   */
  default double globalSquaredNorm(Collection<Parameter> params) {
    return GradClipper.squaredNorm(params);
  }

  /** Multiplies the synchronised gradient this rank holds by {@code factor} (clipping). */
  default void scale(Collection<Parameter> params, double factor) {
    GradClipper.scale(params, factor);
  }

  /** Drops the gradients this rank holds (after the update, or when the step is discarded). */
  default void clear(Collection<Parameter> params) {
    Gradients.clear(params);
  }
}
