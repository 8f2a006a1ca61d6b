package ai.bakery.data.pack;

import ai.bakery.data.DataRandom;

/**
 * Picks a dataset group for the next sample with probability weight / sum(weights), as the reference: one
 * uniform draw compared with the cumulative probabilities.
 */
public final class GroupChooser {
  private final double[] cumulative;
  private final DataRandom rng;

  public GroupChooser(double[] weights, DataRandom rng) {
    double total = 0;
    for (double w : weights) {
      if (!(w >= 0)) {
        throw new IllegalArgumentException("group weights must be >= 0, got " + w);
      }
      total += w;
    }
    if (!(total > 0)) {
      throw new IllegalArgumentException("the dataset groups' weights sum to " + total + "; at least one must be > 0");
    }
    cumulative = new double[weights.length];
    double sum = 0;
    for (int i = 0; i < weights.length; i++) {
      sum += weights[i];
      cumulative[i] = sum / total;
    }
    this.rng = rng;
  }

  public int next() {
    double n = rng.nextDouble();
    for (int i = 0; i < cumulative.length; i++) {
      if (n < cumulative[i]) {
        return i;
      }
    }
    return 0; // only when rounding leaves the last cumulative below 1, as the reference
  }

  public DataRandom rng() {
    return rng;
  }
}
