package ai.bakery.data.pack;

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
    String[] sampleKeys) {}
