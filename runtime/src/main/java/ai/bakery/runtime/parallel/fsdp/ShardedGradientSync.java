package ai.bakery.runtime.parallel.fsdp;

import ai.bakery.model.tensor.Parameter;
import ai.bakery.runtime.optim.Gradients;
import ai.bakery.runtime.parallel.GradientSync;
import java.util.Collection;

/**
 * FULL_SHARD / HYBRID_SHARD as a {@link GradientSync}: the gradients a rank holds after the step's backward are
 * its shard gradients (reduce-scattered per segment as backward went, the root unit's here), the clip norm sums
 * the shard group's squares, and clipping and clearing act on the shards.
 */
public final class ShardedGradientSync implements GradientSync {
  private final ShardedTrainModel model;

  public ShardedGradientSync(ShardedTrainModel model) {
    this.model = model;
  }

  @Override
  public void synchronize(Collection<Parameter> params) {
    model.synchronize();
  }

  @Override
  public double[] meanOverRanks(double... values) {
    return model.state().meanOverRanks(values);
  }

  @Override
  public double globalSquaredNorm(Collection<Parameter> params) {
    return model.state().globalSquaredNorm();
  }

  @Override
  public void scale(Collection<Parameter> params, double factor) {
    model.state().scaleGradients(factor);
  }

  @Override
  public void clear(Collection<Parameter> params) {
    model.state().clearGradients();
    Gradients.clear(params); // full gradients left by a step that failed before synchronising
  }
}
