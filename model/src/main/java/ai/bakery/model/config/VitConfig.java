package ai.bakery.model.config;

import ai.bakery.model.nn.Activations;
import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The SigLIP vision tower as its HF {@code config.json} (or BAGEL's {@code vit_config.json}) describes it.
 * Fields absent from the file take SigLIP's defaults; unknown fields are ignored (HF files carry many).
 * {@code rope} is false in BAGEL training (learned position embedding indexed by row*side+col).
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record VitConfig(
    @JsonProperty("hidden_size") int hiddenSize,
    @JsonProperty("intermediate_size") int intermediateSize,
    @JsonProperty("num_hidden_layers") int numHiddenLayers,
    @JsonProperty("num_attention_heads") int numAttentionHeads,
    @JsonProperty("num_channels") int numChannels,
    @JsonProperty("image_size") int imageSize,
    @JsonProperty("patch_size") int patchSize,
    @JsonProperty("hidden_act") String hiddenAct,
    @JsonProperty("layer_norm_eps") double layerNormEps,
    @JsonProperty("attention_dropout") double attentionDropout,
    @JsonProperty("rope") boolean rope) {

  /** SigLIP so400m-patch14-980 as BAGEL-7B-MoT uses it (before dropping layers for vit_select_layer). */
  public static final VitConfig SO400M_980 =
      new VitConfig(1152, 4304, 27, 16, 3, 980, 14, "gelu_pytorch_tanh", 1e-6, 0.0, false);

  @JsonCreator
  static VitConfig fromJson(
      @JsonProperty("hidden_size") Integer hiddenSize,
      @JsonProperty("intermediate_size") Integer intermediateSize,
      @JsonProperty("num_hidden_layers") Integer numHiddenLayers,
      @JsonProperty("num_attention_heads") Integer numAttentionHeads,
      @JsonProperty("num_channels") Integer numChannels,
      @JsonProperty("image_size") Integer imageSize,
      @JsonProperty("patch_size") Integer patchSize,
      @JsonProperty("hidden_act") String hiddenAct,
      @JsonProperty("layer_norm_eps") Double layerNormEps,
      @JsonProperty("attention_dropout") Double attentionDropout,
      @JsonProperty("rope") Boolean rope) {
    return new VitConfig(
        or(hiddenSize, 768), or(intermediateSize, 3072), or(numHiddenLayers, 12), or(numAttentionHeads, 12),
        or(numChannels, 3), or(imageSize, 224), or(patchSize, 16), hiddenAct == null ? "gelu_pytorch_tanh" : hiddenAct,
        layerNormEps == null ? 1e-6 : layerNormEps, attentionDropout == null ? 0.0 : attentionDropout,
        rope != null && rope);
  }

  public VitConfig {
    positive("hidden_size", hiddenSize);
    positive("intermediate_size", intermediateSize);
    positive("num_hidden_layers", numHiddenLayers);
    positive("num_attention_heads", numAttentionHeads);
    positive("num_channels", numChannels);
    positive("image_size", imageSize);
    positive("patch_size", patchSize);
    if (hiddenSize % numAttentionHeads != 0) {
      throw new ConfigException("vit config: hidden_size " + hiddenSize + " is not a multiple of num_attention_heads "
          + numAttentionHeads);
    }
    if (imageSize % patchSize != 0) {
      throw new ConfigException("vit config: image_size " + imageSize + " is not a multiple of patch_size " + patchSize);
    }
    if (!(layerNormEps > 0)) {
      throw new ConfigException("vit config: layer_norm_eps must be > 0, got " + layerNormEps);
    }
    if (attentionDropout < 0 || attentionDropout >= 1) {
      throw new ConfigException("vit config: attention_dropout must be in [0, 1), got " + attentionDropout);
    }
    if (!Activations.KNOWN.contains(hiddenAct)) {
      throw new ConfigException("vit config: hidden_act '" + hiddenAct + "' is not one of "
          + Activations.KNOWN);
    }
  }

  public int headDim() {
    return hiddenSize / numAttentionHeads;
  }

  /** Patches per image side at {@code image_size}; the position table has this squared rows. */
  public int numPatchesPerSide() {
    return imageSize / patchSize;
  }

  public int numPositions() {
    return numPatchesPerSide() * numPatchesPerSide();
  }

  /** Input width of the linear patch embedding: channels * patch * patch. */
  public int patchDim() {
    return numChannels * patchSize * patchSize;
  }

  /**
   * The tower BAGEL actually builds: features are taken from layer {@code vitSelectLayer} (negative counts
   * from the end, -1 = last), so only num_hidden_layers + 1 + vitSelectLayer layers are kept.
   */
  public VitConfig keepingLayersFor(int vitSelectLayer) {
    int kept = vitSelectLayer < 0 ? numHiddenLayers + 1 + vitSelectLayer : vitSelectLayer;
    if (kept < 1 || kept > numHiddenLayers) {
      throw new ConfigException("vit_select_layer " + vitSelectLayer + " leaves " + kept + " of "
          + numHiddenLayers + " ViT layers");
    }
    return withLayers(kept);
  }

  public VitConfig withLayers(int layers) {
    return new VitConfig(hiddenSize, intermediateSize, layers, numAttentionHeads, numChannels, imageSize, patchSize,
        hiddenAct, layerNormEps, attentionDropout, rope);
  }

  public VitConfig withRope(boolean useRope) {
    return new VitConfig(hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads, numChannels, imageSize,
        patchSize, hiddenAct, layerNormEps, attentionDropout, useRope);
  }

  /** Reads a SigLIP vision config; a full SigLIP config.json is accepted and its {@code vision_config} used. */
  public static VitConfig read(Path file) {
    ObjectMapper mapper = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);
    try {
      JsonNode root = mapper.readTree(Files.readAllBytes(file));
      if (root == null || !root.isObject()) {
        throw new ConfigException(file + ": not a JSON object");
      }
      JsonNode node = root.has("vision_config") ? root.get("vision_config") : root;
      return mapper.treeToValue(node, VitConfig.class);
    } catch (ConfigException e) {
      throw e;
    } catch (com.fasterxml.jackson.databind.exc.ValueInstantiationException e) {
      Throwable cause = e.getCause() instanceof ConfigException ? e.getCause() : e;
      throw new ConfigException(file + ": " + cause.getMessage(), e);
    } catch (IOException e) {
      throw new ConfigException(file + ": cannot read vit config: " + e.getMessage(), e);
    }
  }

  private static int or(Integer v, int dflt) {
    return v == null ? dflt : v;
  }

  private static void positive(String field, int v) {
    if (v <= 0) {
      throw new ConfigException("vit config: " + field + " must be > 0, got " + v);
    }
  }
}
