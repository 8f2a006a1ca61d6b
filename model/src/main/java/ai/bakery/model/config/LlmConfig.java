package ai.bakery.model.config;

import ai.bakery.model.nn.Activations;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;

/**
 * The Qwen2 language model of BAGEL, as its {@code llm_config.json} (a HF Qwen2 config.json) describes it,
 * plus BAGEL's own fields. Required: hidden_size, intermediate_size, num_hidden_layers, num_attention_heads,
 * num_key_value_heads, vocab_size. Other HF fields default as HF's Qwen2Config does. BAGEL's fields default
 * as the reference training script sets them when it builds BAGEL (qk_norm true, Qwen2MoTDecoderLayer,
 * freeze_und false), because BAGEL's own llm_config.json does not carry them. Unknown fields are ignored: HF
 * writes many that do not change the architecture (bos_token_id, torch_dtype, use_cache, ...).
 */
public record LlmConfig(
    @JsonProperty("hidden_size") int hiddenSize,
    @JsonProperty("intermediate_size") int intermediateSize,
    @JsonProperty("num_hidden_layers") int numHiddenLayers,
    @JsonProperty("num_attention_heads") int numAttentionHeads,
    @JsonProperty("num_key_value_heads") int numKeyValueHeads,
    @JsonProperty("rms_norm_eps") double rmsNormEps,
    @JsonProperty("rope_theta") double ropeTheta,
    @JsonProperty("vocab_size") int vocabSize,
    @JsonProperty("max_position_embeddings") int maxPositionEmbeddings,
    @JsonProperty("tie_word_embeddings") boolean tieWordEmbeddings,
    @JsonProperty("hidden_act") String hiddenAct,
    @JsonProperty("initializer_range") double initializerRange,
    @JsonProperty("qk_norm") boolean qkNorm,
    @JsonProperty("layer_module") LayerModule layerModule,
    @JsonProperty("freeze_und") boolean freezeUnd) {

  public LlmConfig {
    String src = "llm config";
    positive(src, "hidden_size", hiddenSize);
    positive(src, "intermediate_size", intermediateSize);
    positive(src, "num_hidden_layers", numHiddenLayers);
    positive(src, "num_attention_heads", numAttentionHeads);
    positive(src, "num_key_value_heads", numKeyValueHeads);
    positive(src, "vocab_size", vocabSize);
    positive(src, "max_position_embeddings", maxPositionEmbeddings);
    if (hiddenSize % numAttentionHeads != 0) {
      throw new ConfigException(src + ": hidden_size " + hiddenSize + " is not a multiple of num_attention_heads "
          + numAttentionHeads);
    }
    if (numAttentionHeads % numKeyValueHeads != 0) {
      throw new ConfigException(src + ": num_attention_heads " + numAttentionHeads
          + " is not a multiple of num_key_value_heads " + numKeyValueHeads);
    }
    if ((hiddenSize / numAttentionHeads) % 2 != 0) {
      throw new ConfigException(src + ": head dim " + hiddenSize / numAttentionHeads + " must be even for RoPE");
    }
    if (!(rmsNormEps > 0)) {
      throw new ConfigException(src + ": rms_norm_eps must be > 0, got " + rmsNormEps);
    }
    if (!(ropeTheta > 1)) {
      throw new ConfigException(src + ": rope_theta must be > 1, got " + ropeTheta);
    }
    if (!(initializerRange > 0)) {
      throw new ConfigException(src + ": initializer_range must be > 0, got " + initializerRange);
    }
    if (!Activations.KNOWN.contains(hiddenAct)) {
      throw new ConfigException(src + ": hidden_act '" + hiddenAct + "' is not one of " + Activations.KNOWN);
    }
    if (layerModule == null) {
      throw new ConfigException(src + ": layer_module is required");
    }
  }

  /** Reads {@code llm_config.json}; errors name the file and field. */
  public static LlmConfig read(Path file) {
    return fromJson(ConfigFields.readTree(file), file.toString());
  }

  /** Binds a Qwen2 config object (a file's root, or BAGEL's nested {@code llm_config}). */
  public static LlmConfig fromJson(JsonNode node, String source) {
    ConfigFields f = new ConfigFields(node, source);
    int hidden = f.requireInt("hidden_size");
    int heads = f.requireInt("num_attention_heads");
    if (f.has("rope_scaling")) {
      throw f.invalid("rope_scaling", "is set; BAGEL trains with plain RoPE and scaled RoPE is not supported");
    }
    if (f.has("head_dim") && heads > 0 && f.optInt("head_dim", 0) * heads != hidden) {
      throw f.invalid("head_dim", "is " + f.optInt("head_dim", 0) + " but Qwen2 uses hidden_size/num_attention_heads = "
          + (hidden / heads));
    }
    try {
      return new LlmConfig(
          hidden,
          f.requireInt("intermediate_size"),
          f.requireInt("num_hidden_layers"),
          heads,
          f.requireInt("num_key_value_heads"),
          f.optDouble("rms_norm_eps", 1e-6),
          f.optDouble("rope_theta", 10000.0),
          f.requireInt("vocab_size"),
          f.optInt("max_position_embeddings", 32768),
          f.optBool("tie_word_embeddings", false),
          f.optString("hidden_act", "silu"),
          f.optDouble("initializer_range", 0.02),
          f.optBool("qk_norm", true),
          LayerModule.parse(f.optString("layer_module", LayerModule.QWEN2_MOT.className()), source),
          f.optBool("freeze_und", false));
    } catch (ConfigException e) {
      throw e.getMessage().startsWith(source) ? e : new ConfigException(source + ": " + e.getMessage(), e);
    }
  }

  public int headDim() {
    return hiddenSize / numAttentionHeads;
  }

  public boolean routesTokens() {
    return layerModule.routesTokens();
  }

  /** After appending special tokens, as the reference resizes embeddings to the tokenizer's length. */
  public LlmConfig withVocabSize(int vocab) {
    return new LlmConfig(hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads, numKeyValueHeads,
        rmsNormEps, ropeTheta, vocab, maxPositionEmbeddings, tieWordEmbeddings, hiddenAct, initializerRange, qkNorm,
        layerModule, freezeUnd);
  }

  /** The training script's overrides of llm_config ({@code layer_module}, {@code llm_qk_norm}, ...). */
  public LlmConfig withBagelOptions(LayerModule module, boolean qk, boolean tied, boolean freeze) {
    return new LlmConfig(hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads, numKeyValueHeads,
        rmsNormEps, ropeTheta, vocabSize, maxPositionEmbeddings, tied, hiddenAct, initializerRange, qk, module, freeze);
  }

  private static void positive(String src, String field, int v) {
    if (v <= 0) {
      throw new ConfigException(src + ": " + field + " must be > 0, got " + v);
    }
  }
}
