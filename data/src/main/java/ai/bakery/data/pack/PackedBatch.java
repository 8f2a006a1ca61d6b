package ai.bakery.data.pack;

import java.util.Arrays;

/**
 * One packed training sequence with every key of the reference's packed batch, as host arrays. Index arrays
 * point into the packed sequence [0, sequenceLength). Converted losslessly to and from one Arrow record batch
 * for streaming (see {@code PackedBatchArrow}); the runtime turns it into device tensors.
 *
 * @param sequenceLength total tokens in the pack
 * @param sampleLens tokens of each sample
 * @param splitLens tokens of each split of each sample, in order
 * @param attnModes "causal" | "full" | "noise" per split
 * @param packedTextIds token id of every text token
 * @param packedTextIndexes position in the pack of every text token
 * @param packedPositionIds RoPE position of every token (an image's tokens share one)
 * @param paddedImages VAE inputs, (numVaeImages, 3, H, W) padded to the largest, normalised to [-1, 1]
 * @param paddedImagesShape the 4 dims of {@code paddedImages}
 * @param patchifiedVaeLatentShapes (h, w) latent-patch grid of each VAE image, flattened pairs
 * @param packedLatentPositionIds latent_pos_embed index (row * max_latent_size + col) of every VAE token
 * @param packedVaeTokenIndexes position in the pack of every VAE token
 * @param packedTimesteps per VAE token: a logit of t (before sigmoid) for noised targets, -inf for clean
 *     conditions
 * @param mseLossIndexes positions in the pack whose hidden state predicts velocity (noised VAE tokens)
 * @param packedVitTokens ViT patches, (numVitTokens, 3 * patch * patch) flattened, normalised
 * @param vitPatchDim 3 * patch * patch
 * @param packedVitPositionIds vit_pos_embed index (row * vit_max_num_patch_per_side + col) per ViT token
 * @param packedVitTokenIndexes position in the pack of every ViT token
 * @param vitTokenSeqlens ViT tokens of each image
 * @param packedLabelIds next-token label at each CE position
 * @param ceLossIndexes positions in the pack whose logits predict {@code packedLabelIds}
 * @param ceLossWeights per CE position weight (1, or len2weight reweighting)
 * @param sampleKeys {@code Sample.key()} of every sample in the pack, for the data ledger
 */
public record PackedBatch(
    int sequenceLength,
    int[] sampleLens,
    int[] splitLens,
    String[] attnModes,
    int[] packedTextIds,
    int[] packedTextIndexes,
    int[] packedPositionIds,
    float[] paddedImages,
    int[] paddedImagesShape,
    int[] patchifiedVaeLatentShapes,
    int[] packedLatentPositionIds,
    int[] packedVaeTokenIndexes,
    float[] packedTimesteps,
    int[] mseLossIndexes,
    float[] packedVitTokens,
    int vitPatchDim,
    int[] packedVitPositionIds,
    int[] packedVitTokenIndexes,
    int[] vitTokenSeqlens,
    int[] packedLabelIds,
    int[] ceLossIndexes,
    float[] ceLossWeights,
    String[] sampleKeys) {

  /** VAE images in the pack (targets and clean conditions). */
  public int numVaeImages() {
    return paddedImagesShape.length == 0 ? 0 : paddedImagesShape[0];
  }

  /** Images fed to the ViT. */
  public int numVitImages() {
    return vitTokenSeqlens.length;
  }

  /** Tokens of all samples; equals {@code sequenceLength}. */
  public int tokens() {
    return Arrays.stream(sampleLens).sum();
  }

  /**
   * Whether two batches hold the same values in every key (records compare arrays by identity, which is
   * never what a test or a resume check means). Floats compare bit-exactly, so -inf and NaN match themselves.
   */
  public boolean contentEquals(PackedBatch o) {
    return o != null
        && sequenceLength == o.sequenceLength
        && vitPatchDim == o.vitPatchDim
        && Arrays.equals(sampleLens, o.sampleLens)
        && Arrays.equals(splitLens, o.splitLens)
        && Arrays.equals(attnModes, o.attnModes)
        && Arrays.equals(packedTextIds, o.packedTextIds)
        && Arrays.equals(packedTextIndexes, o.packedTextIndexes)
        && Arrays.equals(packedPositionIds, o.packedPositionIds)
        && Arrays.equals(paddedImages, o.paddedImages)
        && Arrays.equals(paddedImagesShape, o.paddedImagesShape)
        && Arrays.equals(patchifiedVaeLatentShapes, o.patchifiedVaeLatentShapes)
        && Arrays.equals(packedLatentPositionIds, o.packedLatentPositionIds)
        && Arrays.equals(packedVaeTokenIndexes, o.packedVaeTokenIndexes)
        && Arrays.equals(packedTimesteps, o.packedTimesteps)
        && Arrays.equals(mseLossIndexes, o.mseLossIndexes)
        && Arrays.equals(packedVitTokens, o.packedVitTokens)
        && Arrays.equals(packedVitPositionIds, o.packedVitPositionIds)
        && Arrays.equals(packedVitTokenIndexes, o.packedVitTokenIndexes)
        && Arrays.equals(vitTokenSeqlens, o.vitTokenSeqlens)
        && Arrays.equals(packedLabelIds, o.packedLabelIds)
        && Arrays.equals(ceLossIndexes, o.ceLossIndexes)
        && Arrays.equals(ceLossWeights, o.ceLossWeights)
        && Arrays.equals(sampleKeys, o.sampleKeys);
  }

  /**
   * Checks the keys agree with each other (lengths, index ranges, modes); throws naming the first broken key.
   * Cheap enough to run on every batch received over the wire.
   */
  public PackedBatch validate() {
    require(sampleLens.length == sampleKeys.length, "sample_keys", sampleKeys.length + " keys for "
        + sampleLens.length + " samples");
    require(tokens() == sequenceLength, "sample_lens", "sum " + tokens() + " != sequence_length " + sequenceLength);
    require(Arrays.stream(splitLens).sum() == sequenceLength, "split_lens", "do not sum to sequence_length");
    require(attnModes.length == splitLens.length, "attn_modes", attnModes.length + " modes for "
        + splitLens.length + " splits");
    for (String mode : attnModes) {
      require("causal".equals(mode) || "full".equals(mode) || "noise".equals(mode), "attn_modes",
          "unknown mode " + mode);
    }
    require(packedTextIds.length == packedTextIndexes.length, "packed_text_indexes", "length differs from ids");
    require(packedPositionIds.length == sequenceLength, "packed_position_ids", "length " + packedPositionIds.length
        + " != sequence_length " + sequenceLength);
    require(paddedImagesShape.length == 4, "padded_images_shape", "needs 4 dims");
    int n = paddedImagesShape[0];
    require((long) n * paddedImagesShape[1] * paddedImagesShape[2] * paddedImagesShape[3] == paddedImages.length,
        "padded_images", "length does not match its shape");
    require(patchifiedVaeLatentShapes.length == 2 * n, "patchified_vae_latent_shapes", "needs 2 values per image");
    int latents = 0;
    for (int i = 0; i < n; i++) {
      latents += patchifiedVaeLatentShapes[2 * i] * patchifiedVaeLatentShapes[2 * i + 1];
    }
    require(packedVaeTokenIndexes.length == latents, "packed_vae_token_indexes", "length != latent cells");
    require(packedLatentPositionIds.length == latents, "packed_latent_position_ids", "length != latent cells");
    require(packedTimesteps.length == latents, "packed_timesteps", "length != latent cells");
    int vit = Arrays.stream(vitTokenSeqlens).sum();
    require(packedVitTokenIndexes.length == vit, "packed_vit_token_indexes", "length != sum of vit_token_seqlens");
    require(packedVitPositionIds.length == vit, "packed_vit_position_ids", "length != sum of vit_token_seqlens");
    require((long) vit * vitPatchDim == packedVitTokens.length, "packed_vit_tokens", "length != tokens x patch dim");
    require(packedLabelIds.length == ceLossIndexes.length, "packed_label_ids", "length differs from ce_loss_indexes");
    require(ceLossWeights.length == ceLossIndexes.length, "ce_loss_weights", "length differs from ce_loss_indexes");
    require(packedTextIds.length + latents + vit == sequenceLength, "packed_text_indexes",
        "text + vae + vit tokens != sequence_length");
    for (int[] idx : new int[][] {packedTextIndexes, packedVaeTokenIndexes, packedVitTokenIndexes, mseLossIndexes,
        ceLossIndexes}) {
      for (int i : idx) {
        require(i >= 0 && i < sequenceLength, "indexes", "index " + i + " outside [0, " + sequenceLength + ")");
      }
    }
    return this;
  }

  private static void require(boolean ok, String key, String what) {
    if (!ok) {
      throw new IllegalStateException("packed batch key " + key + ": " + what);
    }
  }
}
