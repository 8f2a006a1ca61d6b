package ai.bakery.runtime.parallel;

import ai.bakery.model.bagel.BagelLoss;
import ai.bakery.runtime.collective.Collective;
import ai.bakery.runtime.collective.ReduceOp;
import ai.bakery.runtime.train.TrainStep;

/**
 * A micro-batch's CE and MSE token counts summed over the group (one all-reduce per micro-batch, as the
 * reference's {@code dist.all_reduce(total_ce_tokens)}), so each rank's loss is its share of the group's mean.
 * With CE reweighting the weight sums travel too, in fp32 as the reference's.
 */
public final class TokenCountReducer implements TrainStep.CountReducer {
  private final Collective group;
  private final boolean ceReweighting;

  /**
   * @param ceReweighting the job's {@code ce_loss_reweighting}; it must be the same on every rank, since it
   *     decides whether the weight sums are reduced
   */
  public TokenCountReducer(Collective group, boolean ceReweighting) {
    this.group = group;
    this.ceReweighting = ceReweighting;
  }

  @Override
  public BagelLoss.GlobalCounts reduce(BagelLoss.GlobalCounts local) {
    long[] tokens = SmallVectors.allReduce(group, new long[] {local.ceTokens(), local.mseTokens()}, ReduceOp.SUM);
    double weights = local.ceWeightSum();
    if (ceReweighting) {
      weights = SmallVectors.allReduce(group, new float[] {(float) weights}, ReduceOp.SUM)[0];
    }
    return new BagelLoss.GlobalCounts(tokens[0], weights, tokens[1], group.worldSize());
  }
}
