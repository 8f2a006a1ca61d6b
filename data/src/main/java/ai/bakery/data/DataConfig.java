package ai.bakery.data;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Packing, planning and loading options with the reference's defaults (BAGEL's {@code DataArguments},
 * {@code ModelArguments} and {@code PackedDataset} arguments; LMMS Engine's packing options). Bound from
 * YAML/JSON with the snake_case names below; each check names the bad key.
 *
 * @param expectedNumTokens yield a pack once it holds at least this many tokens (reference packer)
 * @param maxNumTokens a pack never exceeds this many tokens (reference packer)
 * @param maxNumTokensPerSample samples costing more are skipped and counted
 * @param preferBufferBefore while a pack holds fewer tokens, take samples from the overflow buffer first
 * @param maxBufferSize most samples held in the overflow buffer
 * @param vaeImageDownsample pixels per latent token side: latent_patch_size * VAE downsample (2 * 8)
 * @param maxLatentSize the latent grid's longest allowed side; larger images are skipped
 * @param vitPatchSize ViT patch side in pixels
 * @param vitMaxNumPatchPerSide the ViT patch grid's longest allowed side; larger images are skipped
 * @param textCondDropoutProb CFG dropout of droppable text splits
 * @param vitCondDropoutProb CFG dropout of ViT conditions of generation samples
 * @param vaeCondDropoutProb CFG dropout of clean VAE conditions
 * @param interpolatePos position ids by bucketing into the max grid instead of row * max + col
 * @param ceLossWeighting len2weight reduction for ce_loss_weights: square | sample | token
 * @param packingStrategy reference (BAGEL's buffered packer) | first_fit (LMMS Engine)
 * @param packingLength first_fit: tokens per pack
 * @param filterOverlong first_fit: drop samples longer than packing_length (else they go alone)
 * @param numWorkers loader workers per rank; shard units are dealt to ranks x workers
 * @param prefetch packs prepared ahead on the background thread
 * @param dataSeed seed of shard shuffling, group choice, CFG dropout and timesteps
 * @param rowsPerUnit records per shard unit of JSONL / JSON files (fixed across a run and its resumes)
 */
public record DataConfig(
    int expectedNumTokens,
    int maxNumTokens,
    int maxNumTokensPerSample,
    int preferBufferBefore,
    int maxBufferSize,
    int vaeImageDownsample,
    int maxLatentSize,
    int vitPatchSize,
    int vitMaxNumPatchPerSide,
    double textCondDropoutProb,
    double vitCondDropoutProb,
    double vaeCondDropoutProb,
    boolean interpolatePos,
    String ceLossWeighting,
    String packingStrategy,
    int packingLength,
    boolean filterOverlong,
    int numWorkers,
    int prefetch,
    long dataSeed,
    int rowsPerUnit) {

  public static final String REFERENCE = "reference";
  public static final String FIRST_FIT = "first_fit";

  public DataConfig {
    positive("expected_num_tokens", expectedNumTokens);
    positive("max_num_tokens", maxNumTokens);
    positive("max_num_tokens_per_sample", maxNumTokensPerSample);
    nonNegative("prefer_buffer_before", preferBufferBefore);
    nonNegative("max_buffer_size", maxBufferSize);
    positive("vae_image_downsample", vaeImageDownsample);
    positive("max_latent_size", maxLatentSize);
    positive("vit_patch_size", vitPatchSize);
    positive("vit_max_num_patch_per_side", vitMaxNumPatchPerSide);
    probability("text_cond_dropout_prob", textCondDropoutProb);
    probability("vit_cond_dropout_prob", vitCondDropoutProb);
    probability("vae_cond_dropout_prob", vaeCondDropoutProb);
    positive("packing_length", packingLength);
    positive("num_workers", numWorkers);
    positive("prefetch", prefetch);
    positive("rows_per_unit", rowsPerUnit);
    if (maxNumTokens < expectedNumTokens) {
      throw new IllegalArgumentException("max_num_tokens (" + maxNumTokens
          + ") must be >= expected_num_tokens (" + expectedNumTokens + ")");
    }
    if (!"square".equals(ceLossWeighting) && !"sample".equals(ceLossWeighting) && !"token".equals(ceLossWeighting)) {
      throw new IllegalArgumentException("ce_loss_weighting must be square, sample or token, got " + ceLossWeighting);
    }
    if (!REFERENCE.equals(packingStrategy) && !FIRST_FIT.equals(packingStrategy)) {
      throw new IllegalArgumentException("packing_strategy must be reference or first_fit, got " + packingStrategy);
    }
  }

  /** The reference's defaults (pretraining sizes; finetuning uses 10240 / 11520 expected / max tokens). */
  public static DataConfig defaults() {
    return of(null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
        null, null, null, null, null);
  }

  /** Jackson entry point: absent keys take the reference's defaults. */
  @JsonCreator
  public static DataConfig of(
      @JsonProperty("expected_num_tokens") Integer expectedNumTokens,
      @JsonProperty("max_num_tokens") Integer maxNumTokens,
      @JsonProperty("max_num_tokens_per_sample") Integer maxNumTokensPerSample,
      @JsonProperty("prefer_buffer_before") Integer preferBufferBefore,
      @JsonProperty("max_buffer_size") Integer maxBufferSize,
      @JsonProperty("vae_image_downsample") Integer vaeImageDownsample,
      @JsonProperty("max_latent_size") Integer maxLatentSize,
      @JsonProperty("vit_patch_size") Integer vitPatchSize,
      @JsonProperty("vit_max_num_patch_per_side") Integer vitMaxNumPatchPerSide,
      @JsonProperty("text_cond_dropout_prob") Double textCondDropoutProb,
      @JsonProperty("vit_cond_dropout_prob") Double vitCondDropoutProb,
      @JsonProperty("vae_cond_dropout_prob") Double vaeCondDropoutProb,
      @JsonProperty("interpolate_pos") Boolean interpolatePos,
      @JsonProperty("ce_loss_weighting") String ceLossWeighting,
      @JsonProperty("packing_strategy") String packingStrategy,
      @JsonProperty("packing_length") Integer packingLength,
      @JsonProperty("filter_overlong") Boolean filterOverlong,
      @JsonProperty("num_workers") Integer numWorkers,
      @JsonProperty("prefetch") Integer prefetch,
      @JsonProperty("data_seed") Long dataSeed,
      @JsonProperty("rows_per_unit") Integer rowsPerUnit) {
    return new DataConfig(
        or(expectedNumTokens, 32768),
        or(maxNumTokens, 36864),
        or(maxNumTokensPerSample, 16384),
        or(preferBufferBefore, 16384),
        or(maxBufferSize, 50),
        or(vaeImageDownsample, 16),
        or(maxLatentSize, 32),
        or(vitPatchSize, 14),
        or(vitMaxNumPatchPerSide, 70),
        or(textCondDropoutProb, 0.1),
        or(vitCondDropoutProb, 0.3),
        or(vaeCondDropoutProb, 0.3),
        or(interpolatePos, false),
        or(ceLossWeighting, "square"),
        or(packingStrategy, REFERENCE),
        or(packingLength, 32000),
        or(filterOverlong, true),
        or(numWorkers, 4),
        or(prefetch, 2),
        or(dataSeed, 42L),
        or(rowsPerUnit, 64));
  }

  public DataConfig withTokens(int expected, int max, int perSample, int preferBuffer, int bufferSize) {
    return new DataConfig(expected, max, perSample, preferBuffer, bufferSize, vaeImageDownsample, maxLatentSize,
        vitPatchSize, vitMaxNumPatchPerSide, textCondDropoutProb, vitCondDropoutProb, vaeCondDropoutProb,
        interpolatePos, ceLossWeighting, packingStrategy, packingLength, filterOverlong, numWorkers, prefetch,
        dataSeed, rowsPerUnit);
  }

  public DataConfig withDropout(double text, double vit, double vae) {
    return new DataConfig(expectedNumTokens, maxNumTokens, maxNumTokensPerSample, preferBufferBefore,
        maxBufferSize, vaeImageDownsample, maxLatentSize, vitPatchSize, vitMaxNumPatchPerSide, text, vit, vae,
        interpolatePos, ceLossWeighting, packingStrategy, packingLength, filterOverlong, numWorkers, prefetch,
        dataSeed, rowsPerUnit);
  }

  public DataConfig withImageLimits(int vaeDownsample, int latentSize, int vitPatch, int vitMaxSide) {
    return new DataConfig(expectedNumTokens, maxNumTokens, maxNumTokensPerSample, preferBufferBefore,
        maxBufferSize, vaeDownsample, latentSize, vitPatch, vitMaxSide, textCondDropoutProb, vitCondDropoutProb,
        vaeCondDropoutProb, interpolatePos, ceLossWeighting, packingStrategy, packingLength, filterOverlong,
        numWorkers, prefetch, dataSeed, rowsPerUnit);
  }

  public DataConfig withPacking(String strategy, int length, boolean dropOverlong) {
    return new DataConfig(expectedNumTokens, maxNumTokens, maxNumTokensPerSample, preferBufferBefore,
        maxBufferSize, vaeImageDownsample, maxLatentSize, vitPatchSize, vitMaxNumPatchPerSide, textCondDropoutProb,
        vitCondDropoutProb, vaeCondDropoutProb, interpolatePos, ceLossWeighting, strategy, length, dropOverlong,
        numWorkers, prefetch, dataSeed, rowsPerUnit);
  }

  public DataConfig withLoading(int workers, int prefetchPacks, long seed) {
    return new DataConfig(expectedNumTokens, maxNumTokens, maxNumTokensPerSample, preferBufferBefore,
        maxBufferSize, vaeImageDownsample, maxLatentSize, vitPatchSize, vitMaxNumPatchPerSide, textCondDropoutProb,
        vitCondDropoutProb, vaeCondDropoutProb, interpolatePos, ceLossWeighting, packingStrategy, packingLength,
        filterOverlong, workers, prefetchPacks, seed, rowsPerUnit);
  }

  public DataConfig withRowsPerUnit(int rows) {
    return new DataConfig(expectedNumTokens, maxNumTokens, maxNumTokensPerSample, preferBufferBefore,
        maxBufferSize, vaeImageDownsample, maxLatentSize, vitPatchSize, vitMaxNumPatchPerSide, textCondDropoutProb,
        vitCondDropoutProb, vaeCondDropoutProb, interpolatePos, ceLossWeighting, packingStrategy, packingLength,
        filterOverlong, numWorkers, prefetch, dataSeed, rows);
  }

  public DataConfig withCeLossWeighting(String weighting) {
    return new DataConfig(expectedNumTokens, maxNumTokens, maxNumTokensPerSample, preferBufferBefore,
        maxBufferSize, vaeImageDownsample, maxLatentSize, vitPatchSize, vitMaxNumPatchPerSide, textCondDropoutProb,
        vitCondDropoutProb, vaeCondDropoutProb, interpolatePos, weighting, packingStrategy, packingLength,
        filterOverlong, numWorkers, prefetch, dataSeed, rowsPerUnit);
  }

  private static <T> T or(T value, T fallback) {
    return value == null ? fallback : value;
  }

  private static void positive(String key, int value) {
    if (value <= 0) {
      throw new IllegalArgumentException(key + " must be positive, got " + value);
    }
  }

  private static void nonNegative(String key, int value) {
    if (value < 0) {
      throw new IllegalArgumentException(key + " must be >= 0, got " + value);
    }
  }

  private static void probability(String key, double value) {
    if (!(value >= 0.0 && value <= 1.0)) {
      throw new IllegalArgumentException(key + " must be in [0, 1], got " + value);
    }
  }
}
