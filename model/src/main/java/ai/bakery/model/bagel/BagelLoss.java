package ai.bakery.model.bagel;

import ai.djl.ndarray.NDArray;

/**
 * The reference trainer's loss from a {@link BagelOutput}, normalised by counts summed over every rank of
 * the step (so each rank's gradient is its share of one global mean, and summing gradients across ranks gives
 * the global mean's gradient):
 * <ul>
 *   <li>ce = sum(ce) * world / total_ce_tokens, or with CE reweighting sum(ce * w) * world / sum_global(w);
 *   <li>mse = sum(mean over channels of mse) * world / total_mse_tokens;
 *   <li>loss = (ce * ce_weight + mse * mse_weight) / grad_accum_steps.
 * </ul>
 * A term whose global count is zero contributes zero (the reference would divide by zero).
 */
public record BagelLoss(double ceWeight, double mseWeight) {

  public BagelLoss {
    if (!(ceWeight >= 0) || !(mseWeight >= 0)) {
      throw new IllegalArgumentException("ce_weight and mse_weight must be >= 0, got " + ceWeight + ", " + mseWeight);
    }
  }

  /**
   * Counts of one step over all ranks.
   *
   * @param ceTokens CE positions over all ranks
   * @param ceWeightSum sum of ce_loss_weights over all ranks (used only with reweighting)
   * @param mseTokens noised latent tokens over all ranks
   * @param worldSize ranks contributing
   */
  public record GlobalCounts(long ceTokens, double ceWeightSum, long mseTokens, int worldSize) {
    public GlobalCounts {
      if (worldSize < 1 || ceTokens < 0 || mseTokens < 0 || ceWeightSum < 0) {
        throw new IllegalArgumentException("bad global counts: ce " + ceTokens + ", ce weights " + ceWeightSum
            + ", mse " + mseTokens + ", world " + worldSize);
      }
    }

    /** One rank alone: its own counts are the global ones. */
    public static GlobalCounts local(BagelOutput out, NDArray ceWeights) {
      double w = ceWeights == null ? 0 : ceWeights.sum().getFloat();
      return new GlobalCounts(out.ceTokens(), w, out.mseTokens(), 1);
    }
  }

  /** The scalar terms; {@code ce}/{@code mse} are null when their global count is zero, {@code loss} when both are. */
  public record Terms(NDArray loss, NDArray ce, NDArray mse) {}

  /**
   * @param out this rank's forward
   * @param ceWeights per-CE-position weights (ce_loss_reweighting), or null for plain token averaging
   * @param counts global counts for this step
   * @param gradAccumSteps micro-batches per optimizer step
   */
  public Terms compute(BagelOutput out, NDArray ceWeights, GlobalCounts counts, int gradAccumSteps) {
    if (gradAccumSteps < 1) {
      throw new IllegalArgumentException("grad accumulation steps must be >= 1, got " + gradAccumSteps);
    }
    NDArray ce = ce(out.ce(), ceWeights, counts);
    NDArray mse = mse(out.mse(), counts);
    NDArray loss = null;
    if (ce != null) {
      loss = scale(ce, ceWeight);
    }
    if (mse != null) {
      loss = loss == null ? scale(mse, mseWeight) : loss.add(scale(mse, mseWeight));
    }
    if (loss != null) {
      loss = scale(loss, 1.0 / gradAccumSteps);
    }
    return new Terms(loss, ce, mse);
  }

  /** sum(ce [* w]) * world / (total CE tokens | total weight); null when the denominator is zero. */
  public static NDArray ce(NDArray cePerToken, NDArray weights, GlobalCounts counts) {
    double denominator = weights == null ? counts.ceTokens() : counts.ceWeightSum();
    if (cePerToken == null || denominator <= 0) {
      return null;
    }
    NDArray summed = weights == null ? cePerToken.sum() : cePerToken.mul(weights).sum();
    return scale(summed, counts.worldSize() / denominator);
  }

  /** sum over tokens of the channel-mean squared error * world / total MSE tokens; null when there are none. */
  public static NDArray mse(NDArray msePerElement, GlobalCounts counts) {
    if (msePerElement == null || counts.mseTokens() <= 0) {
      return null;
    }
    return scale(msePerElement.mean(new int[] {-1}).sum(), (double) counts.worldSize() / counts.mseTokens());
  }

  /** x * c in x's own dtype (a Java double would promote a 0-dim array to float64). */
  private static NDArray scale(NDArray x, double c) {
    return x.mul(x.getManager().create(c).toType(x.getDataType(), false));
  }

  /**
   * The reference's {@code len2weight}: the CE weight of each token of a text of {@code len} tokens.
   *
   * @param reduction "token" (1), "sample" (1/len) or "square" (1/sqrt(len))
   */
  public static float len2weight(int len, String reduction) {
    if (len == 0) {
      return 0f;
    }
    return switch (reduction) {
      case "token" -> 1f;
      case "sample" -> 1f / len;
      case "square" -> (float) (1.0 / Math.sqrt(len));
      default -> throw new IllegalArgumentException("unknown len2weight reduction '" + reduction
          + "' (token, sample, square)");
    };
  }
}
