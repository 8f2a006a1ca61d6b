package ai.bakery.model.bagel;

import ai.bakery.model.attention.AttnMode;
import ai.bakery.model.attention.PackLayout;
import ai.bakery.model.tensor.Torch;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;

/**
 * One packed batch on the device, mirroring the reference forward's arguments (and the data module's
 * PackedBatch field names). Index arrays are int64 positions in [0, sequenceLength). Branch inputs are null
 * when the pack has none: no ViT tokens, no VAE tokens, or no CE positions.
 *
 * <p>{@code paddedLatent} is the VAE encoding of the padded images, (numImages, z_channels, H/8, W/8),
 * computed by the trainer under no-grad as the reference does. {@code packedTimesteps} are logits of t:
 * finite for noised targets, -inf for clean conditions. {@code undIndexes}/{@code genIndexes} are host
 * copies (text then ViT positions; VAE positions) used to route tokens without reading the device back;
 * the three maxima (-1 when absent) let the model reject ids its tables cannot hold before any kernel runs.
 *
 * <p>Build with {@link #of}, which checks every count and index against the others.
 */
public record BagelInputs(
    int sequenceLength,
    PackLayout layout,
    NDArray packedTextIds,
    NDArray packedTextIndexes,
    NDArray packedPositionIds,
    NDArray paddedLatent,
    int[] patchifiedVaeLatentShapes,
    NDArray packedLatentPositionIds,
    NDArray packedVaeTokenIndexes,
    NDArray packedTimesteps,
    int[] noisedVaeTokens,
    NDArray mseLossIndexes,
    NDArray packedVitTokens,
    NDArray packedVitPositionIds,
    NDArray packedVitTokenIndexes,
    int[] vitTokenSeqlens,
    NDArray packedLabelIds,
    NDArray ceLossIndexes,
    NDArray ceLossWeights,
    int[] undIndexes,
    int[] genIndexes,
    int maxTokenId,
    int maxLatentPositionId,
    int maxVitPositionId) {

  /**
   * The same inputs through new handles owned by {@code m} (no copy: the storage is shared). Ops attach
   * results to their first operand's manager, so aliasing the inputs onto the step's manager keeps every
   * activation of a forward there, even when the batch itself lives longer (re-used, or accumulated).
   */
  public BagelInputs aliasedTo(NDManager m) {
    return new BagelInputs(sequenceLength, layout, alias(packedTextIds, m), alias(packedTextIndexes, m),
        alias(packedPositionIds, m), alias(paddedLatent, m), patchifiedVaeLatentShapes,
        alias(packedLatentPositionIds, m), alias(packedVaeTokenIndexes, m), alias(packedTimesteps, m),
        noisedVaeTokens, alias(mseLossIndexes, m), alias(packedVitTokens, m), alias(packedVitPositionIds, m),
        alias(packedVitTokenIndexes, m), vitTokenSeqlens, alias(packedLabelIds, m), alias(ceLossIndexes, m),
        alias(ceLossWeights, m), undIndexes, genIndexes, maxTokenId, maxLatentPositionId, maxVitPositionId);
  }

  private static NDArray alias(NDArray a, NDManager m) {
    return a == null ? null : Torch.adopt(Torch.view(a), m);
  }

  public int numCeTokens() {
    return ceLossIndexes == null ? 0 : (int) ceLossIndexes.getShape().size();
  }

  public int numMseTokens() {
    return mseLossIndexes == null ? 0 : (int) mseLossIndexes.getShape().size();
  }

  public boolean hasVit() {
    return packedVitTokens != null;
  }

  public boolean hasVae() {
    return paddedLatent != null;
  }

  /**
   * Copies a host pack onto {@code m}, validating it. Arrays for an absent branch may be null or empty.
   *
   * @param paddedLatent the VAE latents of the padded images (already on the device), or null without VAE
   *     tokens
   * @param packedVitTokens (numVitTokens * vitPatchDim) flattened patches
   */
  public static BagelInputs of(NDManager m, int sequenceLength, int[] sampleLens, int[] splitLens,
      String[] attnModes, int[] packedTextIds, int[] packedTextIndexes, int[] packedPositionIds, NDArray paddedLatent,
      int[] patchifiedVaeLatentShapes, int[] packedLatentPositionIds, int[] packedVaeTokenIndexes,
      float[] packedTimesteps, int[] mseLossIndexes, float[] packedVitTokens, int vitPatchDim,
      int[] packedVitPositionIds, int[] packedVitTokenIndexes, int[] vitTokenSeqlens, int[] packedLabelIds,
      int[] ceLossIndexes, float[] ceLossWeights) {
    AttnMode[] modes = new AttnMode[attnModes.length];
    for (int i = 0; i < modes.length; i++) {
      modes[i] = AttnMode.parse(attnModes[i]);
    }
    PackLayout layout = new PackLayout(sampleLens, splitLens, modes);
    if (layout.totalLength() < sequenceLength) {
      throw new IllegalArgumentException("sample_lens sum to " + layout.totalLength() + " < sequence_length "
          + sequenceLength);
    }
    int t = sequenceLength;
    require(len(packedTextIds) == len(packedTextIndexes), "packed_text_ids", len(packedTextIds),
        "packed_text_indexes", len(packedTextIndexes));
    require(len(packedPositionIds) == t, "packed_position_ids", len(packedPositionIds), "sequence_length", t);
    inRange("packed_text_indexes", packedTextIndexes, t);

    boolean vae = len(packedVaeTokenIndexes) > 0;
    int[] noised = new int[0];
    if (vae) {
      if (paddedLatent == null) {
        throw new IllegalArgumentException("the pack has VAE tokens but no padded latent");
      }
      int images = (int) paddedLatent.getShape().get(0);
      require(len(patchifiedVaeLatentShapes) == 2 * images, "patchified_vae_latent_shapes (pairs)",
          len(patchifiedVaeLatentShapes) / 2, "padded latent images", images);
      int tokens = 0;
      for (int i = 0; i < images; i++) {
        tokens += patchifiedVaeLatentShapes[2 * i] * patchifiedVaeLatentShapes[2 * i + 1];
      }
      require(tokens == len(packedVaeTokenIndexes), "latent grid cells", tokens, "packed_vae_token_indexes",
          len(packedVaeTokenIndexes));
      require(len(packedLatentPositionIds) == tokens, "packed_latent_position_ids", len(packedLatentPositionIds),
          "VAE tokens", tokens);
      require(len(packedTimesteps) == tokens, "packed_timesteps", len(packedTimesteps), "VAE tokens", tokens);
      inRange("packed_vae_token_indexes", packedVaeTokenIndexes, t);
      // The reference pairs mse_loss_indexes with the VAE tokens whose t > 0, in order.
      noised = java.util.stream.IntStream.range(0, tokens).filter(i -> packedTimesteps[i] != Float.NEGATIVE_INFINITY)
          .toArray();
      for (float ts : packedTimesteps) {
        if (Float.isNaN(ts) || ts == Float.POSITIVE_INFINITY) {
          throw new IllegalArgumentException("packed_timesteps must be finite logits or -inf, got " + ts);
        }
      }
      int[] expected = Arrays.stream(noised).map(i -> packedVaeTokenIndexes[i]).toArray();
      if (!Arrays.equals(expected, mseLossIndexes == null ? new int[0] : mseLossIndexes)) {
        throw new IllegalArgumentException("mse_loss_indexes must be the positions of the noised VAE tokens "
            + "(finite timestep) in order: " + len(mseLossIndexes) + " given, " + noised.length + " noised tokens");
      }
    } else if (len(mseLossIndexes) > 0) {
      throw new IllegalArgumentException("mse_loss_indexes given but the pack has no VAE tokens");
    }

    boolean vit = len(packedVitTokenIndexes) > 0;
    if (vit) {
      int n = len(packedVitTokenIndexes);
      require(len(packedVitTokens) == (long) n * vitPatchDim, "packed_vit_tokens values", len(packedVitTokens),
          "vit tokens x vit_patch_dim", (long) n * vitPatchDim);
      require(len(packedVitPositionIds) == n, "packed_vit_position_ids", len(packedVitPositionIds),
          "packed_vit_token_indexes", n);
      require(Arrays.stream(vitTokenSeqlens).sum() == n, "vit_token_seqlens sum", Arrays.stream(vitTokenSeqlens).sum(),
          "packed_vit_token_indexes", n);
      inRange("packed_vit_token_indexes", packedVitTokenIndexes, t);
    }

    boolean ce = len(ceLossIndexes) > 0;
    if (ce) {
      require(len(packedLabelIds) == len(ceLossIndexes), "packed_label_ids", len(packedLabelIds), "ce_loss_indexes",
          len(ceLossIndexes));
      if (ceLossWeights != null && ceLossWeights.length > 0) {
        require(ceLossWeights.length == len(ceLossIndexes), "ce_loss_weights", ceLossWeights.length,
            "ce_loss_indexes", len(ceLossIndexes));
      }
      inRange("ce_loss_indexes", ceLossIndexes, t);
    }

    int[] und = concat(packedTextIndexes, vit ? packedVitTokenIndexes : new int[0]);
    int[] gen = vae ? packedVaeTokenIndexes.clone() : new int[0];
    checkPartition(und, gen, t);
    return new BagelInputs(t, layout,
        m.create(longs(packedTextIds)),
        m.create(longs(packedTextIndexes)),
        m.create(longs(packedPositionIds)),
        vae ? paddedLatent : null,
        vae ? patchifiedVaeLatentShapes.clone() : null,
        vae ? m.create(longs(packedLatentPositionIds)) : null,
        vae ? m.create(longs(packedVaeTokenIndexes)) : null,
        vae ? m.create(packedTimesteps) : null,
        noised,
        vae && noised.length > 0 ? m.create(longs(mseLossIndexes)) : null,
        vit ? m.create(packedVitTokens, new Shape(len(packedVitTokenIndexes), vitPatchDim)) : null,
        vit ? m.create(longs(packedVitPositionIds)) : null,
        vit ? m.create(longs(packedVitTokenIndexes)) : null,
        vit ? vitTokenSeqlens.clone() : null,
        ce ? m.create(longs(packedLabelIds)) : null,
        ce ? m.create(longs(ceLossIndexes)) : null,
        ce && ceLossWeights != null && ceLossWeights.length > 0 ? m.create(ceLossWeights) : null,
        und, gen, max(packedTextIds, packedLabelIds), vae ? max(packedLatentPositionIds) : -1,
        vit ? max(packedVitPositionIds) : -1);
  }

  private static int max(int[]... arrays) {
    int m = -1;
    for (int[] a : arrays) {
      if (a != null) {
        for (int v : a) {
          if (v < 0) {
            throw new IllegalArgumentException("negative id " + v + " in a packed batch");
          }
          m = Math.max(m, v);
        }
      }
    }
    return m;
  }

  private static int len(int[] a) {
    return a == null ? 0 : a.length;
  }

  private static long len(float[] a) {
    return a == null ? 0 : a.length;
  }

  private static void require(boolean ok, String a, long na, String b, long nb) {
    if (!ok) {
      throw new IllegalArgumentException(a + " has " + na + " but " + b + " has " + nb);
    }
  }

  private static void inRange(String field, int[] idx, int t) {
    for (int i : idx) {
      if (i < 0 || i >= t) {
        throw new IllegalArgumentException(field + " holds " + i + ", outside [0, " + t + ")");
      }
    }
  }

  /** Every position is exactly one of text, ViT or VAE token (the reference leaves others at zero input). */
  private static void checkPartition(int[] und, int[] gen, int t) {
    byte[] seen = new byte[t];
    for (int[] part : new int[][] {und, gen}) {
      for (int i : part) {
        if (seen[i]++ > 0) {
          throw new IllegalArgumentException("position " + i + " is claimed by two of text, ViT and VAE indexes");
        }
      }
    }
    for (int i = 0; i < t; i++) {
      if (seen[i] == 0) {
        throw new IllegalArgumentException("position " + i + " is neither a text, ViT nor VAE token");
      }
    }
  }

  private static int[] concat(int[] a, int[] b) {
    int[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  private static long[] longs(int[] a) {
    return Arrays.stream(a).asLongStream().toArray();
  }
}
