package ai.bakery.data.plan;

import java.util.List;

/**
 * A sample turned into its sequence plan, ready to pack.
 *
 * @param key the sample's key (for the data ledger)
 * @param cost what the packer charges: content tokens + 2 per planned split, counted before CFG dropout,
 *     as the reference's {@code num_tokens + 2 * len(sequence_plan)}
 * @param splits the splits that survived CFG dropout, in sequence order
 */
public record PlannedSample(String key, int cost, List<PlannedSplit> splits) {
  public PlannedSample {
    splits = List.copyOf(splits);
  }

  /** Tokens this sample occupies in a pack (after dropout). */
  public int length() {
    int n = 0;
    for (PlannedSplit s : splits) {
      n += s.length();
    }
    return n;
  }

  /** Number of images fed to the VAE (targets and conditions). */
  public int vaeImages() {
    int n = 0;
    for (PlannedSplit s : splits) {
      if (s instanceof PlannedSplit.Vae) {
        n++;
      }
    }
    return n;
  }

  /** Number of images fed to the ViT. */
  public int vitImages() {
    int n = 0;
    for (PlannedSplit s : splits) {
      if (s instanceof PlannedSplit.Vit) {
        n++;
      }
    }
    return n;
  }
}
