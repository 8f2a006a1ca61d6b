package ai.bakery.model.config;

import ai.bakery.model.nn.Activations;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The whole BAGEL model: which branches exist, the three sub-configs and the fields the reference's
 * BagelConfig and training arguments carry.
 *
 * <p>{@code vit} is the tower actually built (already cut to {@code vit_select_layer}); null without
 * visual_und. {@code vae} is null without visual_gen.
 *
 * <p>Two on-disk forms are read by {@link #readModelDir}:
 * <ul>
 *   <li><b>original</b> (the reference's model dir, and our presets): {@code llm_config.json} and
 *       {@code vit_config.json} beside a {@code config.json} that holds only top-level fields (or nothing but
 *       a name: BAGEL-7B-MoT ships a placeholder). Missing top-level fields take the reference training
 *       script's defaults. {@code vit_config.json} is the raw SigLIP config; {@code vit_select_layer} cuts it.
 *       Unknown top-level keys are errors, apart from HF metadata ({@link #METADATA}).
 *   <li><b>HF-compatible</b> (LMMS Engine's {@code model_type: bagel}): {@code llm_config}, {@code vit_config}
 *       and {@code vae_config} nested in config.json. The nested vit_config describes the tower as built (LMMS
 *       builds it as given), so it is not cut again. Extra top-level keys are ignored: HF's PretrainedConfig
 *       writes dozens (return_dict, id2label, ...).
 * </ul>
 * In both, {@code layer_module}, {@code llm_qk_norm}, {@code tie_word_embeddings} and {@code freeze_und} at top
 * level override the LLM config, as the training script's arguments do.
 */
public record BagelConfig(
    @JsonProperty("visual_gen") boolean visualGen,
    @JsonProperty("visual_und") boolean visualUnd,
    @JsonProperty("llm_config") LlmConfig llm,
    @JsonProperty("vit_config") VitConfig vit,
    @JsonProperty("vae_config") VaeConfig vae,
    @JsonProperty("latent_patch_size") int latentPatchSize,
    @JsonProperty("max_latent_size") int maxLatentSize,
    @JsonProperty("vit_max_num_patch_per_side") int vitMaxNumPatchPerSide,
    @JsonProperty("vit_select_layer") int vitSelectLayer,
    @JsonProperty("connector_act") String connectorAct,
    @JsonProperty("interpolate_pos") boolean interpolatePos,
    @JsonProperty("timestep_shift") double timestepShift,
    @JsonProperty("copy_init_moe") boolean copyInitMoe) {

  private static final Logger LOG = LoggerFactory.getLogger(BagelConfig.class);

  /** HF metadata a config.json may carry in either form; none of it changes the model. */
  public static final Set<String> METADATA =
      Set.of("name", "model_type", "architectures", "torch_dtype", "transformers_version", "_name_or_path");

  private static final ObjectMapper BIND =
      new ObjectMapper().enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);

  public BagelConfig {
    String src = "bagel config";
    if (llm == null) {
      throw new ConfigException(src + ": llm_config is required");
    }
    if (visualUnd && vit == null) {
      throw new ConfigException(src + ": visual_und is true but there is no vit_config");
    }
    if (visualGen && vae == null) {
      throw new ConfigException(src + ": visual_gen is true but there is no vae_config");
    }
    if (!visualUnd) {
      vit = null;
    }
    if (!visualGen) {
      vae = null;
    }
    positive(src, "latent_patch_size", latentPatchSize);
    positive(src, "max_latent_size", maxLatentSize);
    positive(src, "vit_max_num_patch_per_side", vitMaxNumPatchPerSide);
    if (!Activations.KNOWN.contains(connectorAct)) {
      throw new ConfigException(src + ": connector_act '" + connectorAct + "' is not one of " + Activations.KNOWN);
    }
    if (!(timestepShift > 0) || !Double.isFinite(timestepShift)) {
      throw new ConfigException(src + ": timestep_shift must be finite and > 0, got " + timestepShift);
    }
    if (vit != null && vitMaxNumPatchPerSide > vit.numPatchesPerSide()) {
      // ViT position ids are row * vit_max_num_patch_per_side + col into the tower's own table.
      throw new ConfigException(src + ": vit_max_num_patch_per_side " + vitMaxNumPatchPerSide
          + " exceeds the ViT's " + vit.numPatchesPerSide() + " patches per side (image_size / patch_size): position"
          + " ids would overflow its position embedding");
    }
    if ((visualGen || visualUnd) && llm.hiddenSize() % 4 != 0) {
      // 2D sin-cos tables split hidden into (row, col) halves of (sin, cos) quarters.
      throw new ConfigException(src + ": hidden_size " + llm.hiddenSize()
          + " must be a multiple of 4 for the 2D sin-cos position tables");
    }
  }

  /** Latent channels per token: latent_patch_size^2 * z_channels (64 for FLUX with patch 2). */
  public int patchLatentDim() {
    return latentPatchSize * latentPatchSize * vae.zChannels();
  }

  /** Pixels per latent token side: VAE downsample * latent_patch_size (16 for FLUX with patch 2). */
  public int latentDownsample() {
    return vae.downsample() * latentPatchSize;
  }

  /** Reads a model directory in either form (see the class comment). */
  public static BagelConfig readModelDir(Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new ConfigException(dir + ": model directory not found");
    }
    Path configFile = dir.resolve("config.json");
    ConfigFields top = Files.exists(configFile)
        ? ConfigFields.read(configFile)
        : new ConfigFields(ConfigFields.JSON.createObjectNode(), configFile + " (absent)");
    top.ignore(METADATA.toArray(String[]::new));
    JsonNode nestedLlm = top.optObject("llm_config");
    boolean hfForm = nestedLlm != null;
    boolean visualGen = top.optBool("visual_gen", true);
    boolean visualUnd = top.optBool("visual_und", true);
    int selectLayer = top.optInt("vit_select_layer", -2);
    boolean vitRope = top.optBool("vit_rope", false);

    LlmConfig llm = hfForm
        ? LlmConfig.fromJson(nestedLlm, configFile + ": llm_config")
        : LlmConfig.read(dir.resolve("llm_config.json"));
    llm = llm.withBagelOptions(
        top.has("layer_module")
            ? LayerModule.parse(top.optString("layer_module", ""), configFile.toString())
            : llm.layerModule(),
        top.optBool("llm_qk_norm", llm.qkNorm()),
        top.optBool("tie_word_embeddings", llm.tieWordEmbeddings()),
        top.optBool("freeze_und", llm.freezeUnd()));

    VitConfig vit = null;
    JsonNode nestedVit = top.optObject("vit_config");
    if (visualUnd) {
      if (hfForm) {
        if (nestedVit == null) {
          throw top.missing("vit_config");
        }
        vit = bind(nestedVit, VitConfig.class, configFile + ": vit_config");
      } else {
        vit = VitConfig.read(dir.resolve("vit_config.json")).keepingLayersFor(selectLayer).withRope(vitRope);
      }
    }

    VaeConfig vae = null;
    JsonNode nestedVae = top.optObject("vae_config");
    if (visualGen) {
      Path vaeFile = dir.resolve("vae_config.json");
      if (nestedVae != null) {
        vae = bind(nestedVae, VaeConfig.class, configFile + ": vae_config");
      } else if (Files.exists(vaeFile)) {
        vae = VaeConfig.read(vaeFile);
      } else {
        vae = VaeConfig.FLUX; // ae.safetensors carries no config; the reference hard-codes FLUX's
      }
    }

    BagelConfig config;
    try {
      config = new BagelConfig(
          visualGen,
          visualUnd,
          llm,
          vit,
          vae,
          top.optInt("latent_patch_size", 2),
          top.optInt("max_latent_size", 32),
          top.optInt("vit_max_num_patch_per_side", 70),
          selectLayer,
          top.optString("connector_act", "gelu_pytorch_tanh"),
          top.optBool("interpolate_pos", false),
          top.optDouble("timestep_shift", 1.0),
          top.optBool("copy_init_moe", true));
    } catch (ConfigException e) {
      throw new ConfigException(configFile + ": " + e.getMessage(), e);
    }
    if (hfForm) {
      Set<String> extra = top.unread();
      if (!extra.isEmpty()) {
        LOG.debug("{}: ignoring HF config fields {}", configFile, extra);
      }
    } else {
      top.rejectUnknown();
    }
    return config;
  }

  /**
   * Writes this config as an original-form model directory ({@code config.json}, {@code llm_config.json},
   * {@code vit_config.json}) that {@link #readModelDir} reads back equal: checkpoints then describe themselves.
   * The ViT file gets the raw layer count, which {@code vit_select_layer} cuts again on reading.
   */
  public void writeModelDir(Path dir) {
    try {
      Files.createDirectories(dir);
      ObjectMapper json = new ObjectMapper().enable(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT);
      com.fasterxml.jackson.databind.node.ObjectNode top = json.createObjectNode();
      top.put("visual_gen", visualGen);
      top.put("visual_und", visualUnd);
      top.put("latent_patch_size", latentPatchSize);
      top.put("max_latent_size", maxLatentSize);
      top.put("vit_max_num_patch_per_side", vitMaxNumPatchPerSide);
      top.put("vit_select_layer", vitSelectLayer);
      top.put("connector_act", connectorAct);
      top.put("interpolate_pos", interpolatePos);
      top.put("timestep_shift", timestepShift);
      top.put("copy_init_moe", copyInitMoe);
      if (vae != null) {
        top.set("vae_config", json.valueToTree(vae));
      }
      if (vit != null) {
        top.put("vit_rope", vit.rope());
        int raw = vitSelectLayer < 0 ? vit.numHiddenLayers() - 1 - vitSelectLayer : vit.numHiddenLayers();
        json.writeValue(dir.resolve("vit_config.json").toFile(), vit.withLayers(raw));
      }
      json.writeValue(dir.resolve("llm_config.json").toFile(), llm);
      json.writeValue(dir.resolve("config.json").toFile(), top);
    } catch (java.io.IOException e) {
      throw new ConfigException(dir + ": cannot write model config: " + e.getMessage(), e);
    }
  }

  private static <T> T bind(JsonNode node, Class<T> type, String source) {
    try {
      return BIND.treeToValue(node, type);
    } catch (com.fasterxml.jackson.databind.exc.ValueInstantiationException e) {
      Throwable cause = e.getCause() instanceof ConfigException ? e.getCause() : e;
      throw new ConfigException(source + ": " + cause.getMessage(), e);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new ConfigException(source + ": " + e.getOriginalMessage(), e);
    }
  }

  public BagelConfig withLlm(LlmConfig newLlm) {
    return new BagelConfig(visualGen, visualUnd, newLlm, vit, vae, latentPatchSize, maxLatentSize,
        vitMaxNumPatchPerSide, vitSelectLayer, connectorAct, interpolatePos, timestepShift, copyInitMoe);
  }

  /** The same architecture trained with another timestep shift (the reference takes it from the training args). */
  public BagelConfig withTimestepShift(double shift) {
    return new BagelConfig(visualGen, visualUnd, llm, vit, vae, latentPatchSize, maxLatentSize, vitMaxNumPatchPerSide,
        vitSelectLayer, connectorAct, interpolatePos, shift, copyInitMoe);
  }

  public BagelConfig withBranches(boolean gen, boolean und) {
    return new BagelConfig(gen, und, llm, vit, vae, latentPatchSize, maxLatentSize, vitMaxNumPatchPerSide,
        vitSelectLayer, connectorAct, interpolatePos, timestepShift, copyInitMoe);
  }

  private static void positive(String src, String field, int v) {
    if (v <= 0) {
      throw new ConfigException(src + ": " + field + " must be > 0, got " + v);
    }
  }
}
