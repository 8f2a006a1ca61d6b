package ai.bakery.data.plan;

/**
 * One split of a planned sample, with every token resolved. Indexes are relative to the sample's first
 * token; RoPE positions are relative to the sample (the reference restarts them at 0 for every sample).
 */
public sealed interface PlannedSplit permits PlannedSplit.Text, PlannedSplit.Vit, PlannedSplit.Vae {

  /** Tokens this split occupies in the pack. */
  int length();

  /** "causal" | "full" | "noise". */
  String attnMode();

  /**
   * A text split: {@code [bos] + ids + [eos]}, causal, RoPE {@code firstPosition + i}.
   *
   * @param tokenIds bos, the text's ids, eos
   * @param firstPosition RoPE id of the bos token
   * @param labelIds when the text carries loss: the next id at each of the first {@code tokenIds.length - 1}
   *     positions (the ids, then eos); null otherwise
   * @param ceWeight len2weight of the label count, the same for each label
   */
  record Text(int[] tokenIds, int firstPosition, int[] labelIds, float ceWeight) implements PlannedSplit {
    @Override
    public int length() {
      return tokenIds.length;
    }

    @Override
    public String attnMode() {
      return "causal";
    }
  }

  /**
   * A ViT image split: {@code <|vision_start|>}, one token per patch, {@code <|vision_end|>}; full attention;
   * one RoPE id for all of it.
   *
   * @param position the split's RoPE id
   * @param gridH patch rows
   * @param gridW patch columns
   * @param patches (gridH * gridW, patchDim) row-major, each patch (py, px, channel) flattened
   * @param patchDim 3 * patch * patch
   * @param vitPositionIds vit_pos_embed index of each patch
   */
  record Vit(int position, int gridH, int gridW, float[] patches, int patchDim, int[] vitPositionIds)
      implements PlannedSplit {
    public int numPatches() {
      return gridH * gridW;
    }

    @Override
    public int length() {
      return numPatches() + 2;
    }

    @Override
    public String attnMode() {
      return "full";
    }
  }

  /**
   * A VAE image split: markers around one token per latent cell; {@code noise} for a generation target,
   * {@code full} for a clean condition; one RoPE id for all of it.
   *
   * @param position the split's RoPE id
   * @param height image rows in pixels (a multiple of the VAE downsample)
   * @param width image columns in pixels
   * @param pixels (3, height, width) normalised to [-1, 1]
   * @param latentH latent rows (height / downsample)
   * @param latentW latent columns
   * @param latentPositionIds latent_pos_embed index of each latent token
   * @param noise a noised target with MSE loss (else a clean condition)
   * @param timestep the logit of t drawn from randn for a target, -inf for a condition
   */
  record Vae(int position, int height, int width, float[] pixels, int latentH, int latentW,
      int[] latentPositionIds, boolean noise, float timestep) implements PlannedSplit {
    public int numLatents() {
      return latentH * latentW;
    }

    @Override
    public int length() {
      return numLatents() + 2;
    }

    @Override
    public String attnMode() {
      return noise ? "noise" : "full";
    }
  }
}
