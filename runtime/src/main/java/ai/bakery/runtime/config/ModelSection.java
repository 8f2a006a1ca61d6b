package ai.bakery.runtime.config;

import ai.bakery.model.attention.NsaConfig;
import ai.bakery.model.config.ConfigException;
import java.util.Set;

/**
 * What model to build and how: where its weights come from (a preset name, a BAGEL checkpoint folder, or the
 * separate LLM / ViT / VAE parts), the reference's {@code ModelArguments}, the modality switches and freeze
 * flags, and precision / attention / checkpointing choices. Names follow the reference trainer's flags.
 *
 * @param preset a model flavour name known to {@code ai.bakery.model} (e.g. {@code tiny}); null when paths are
 *     given instead
 * @param modelPath a full BAGEL checkpoint folder (reference {@code model_path}, LMMS
 *     {@code load_from_pretrained_path})
 * @param attnImplementation the attention core: {@code eager} or {@code sdpa} (the HF names flash_attention_2 and
 *     flex_attention run as sdpa), or {@code nsa} for Native Sparse Attention in the decoder with LMMS Engine's
 *     defaults
 * @param nsa Native Sparse Attention settings for every decoder layer (LMMS Engine's {@code monkey_patch_kwargs}
 *     with {@code patch_type: [nsa]}), null when the decoder's attention is dense; the ViT keeps the dense
 *     kernel
 */
public record ModelSection(
    String preset,
    String modelPath,
    String llmPath,
    String vitPath,
    String vaePath,
    String layerModule,
    boolean llmQkNorm,
    boolean tieWordEmbeddings,
    int maxLatentSize,
    int latentPatchSize,
    int vitPatchSize,
    int vitMaxNumPatchPerSide,
    String connectorAct,
    boolean interpolatePos,
    int vitSelectLayer,
    boolean vitRope,
    double textCondDropoutProb,
    double vaeCondDropoutProb,
    double vitCondDropoutProb,
    double timestepShift,
    boolean visualGen,
    boolean visualUnd,
    boolean freezeLlm,
    boolean freezeVit,
    boolean freezeVae,
    boolean freezeUnd,
    boolean copyInitMoe,
    String attnImplementation,
    boolean bf16,
    boolean gradientCheckpointing,
    NsaConfig nsa) {

  public static final Set<String> LAYER_MODULES =
      Set.of("Qwen2MoTDecoderLayer", "Qwen2MoEDecoderLayer", "Qwen2DecoderLayer");
  /** Names users bring from HF / LMMS configs; all run on Bakery's own attention kernels. */
  public static final Set<String> ATTN_IMPLEMENTATIONS =
      Set.of("eager", "sdpa", "flash_attention_2", "flex_attention", "nsa");
  public static final Set<String> CONNECTOR_ACTS = Set.of("gelu_pytorch_tanh", "gelu", "gelu_new", "silu", "relu");

  /** The reference trainer's defaults, with no weights chosen yet. */
  public static final ModelSection DEFAULTS = new ModelSection(null, null, null, null, null, "Qwen2MoTDecoderLayer",
      true, false, 32, 2, 14, 70, "gelu_pytorch_tanh", false, -2, false, 0.1, 0.3, 0.3, 1.0, true, true,
      false, false, true, false, true, "sdpa", true, true, null);

  public ModelSection {
    String at = "model.";
    preset = Checks.blankToNull(preset);
    modelPath = Checks.blankToNull(modelPath);
    llmPath = Checks.blankToNull(llmPath);
    vitPath = Checks.blankToNull(vitPath);
    vaePath = Checks.blankToNull(vaePath);
    Checks.oneOf(at + "layer_module", layerModule, LAYER_MODULES);
    Checks.positive(at + "max_latent_size", maxLatentSize);
    Checks.positive(at + "latent_patch_size", latentPatchSize);
    Checks.positive(at + "vit_patch_size", vitPatchSize);
    Checks.positive(at + "vit_max_num_patch_per_side", vitMaxNumPatchPerSide);
    Checks.oneOf(at + "connector_act", connectorAct, CONNECTOR_ACTS);
    Checks.unitInterval(at + "text_cond_dropout_prob", textCondDropoutProb, false);
    Checks.unitInterval(at + "vae_cond_dropout_prob", vaeCondDropoutProb, false);
    Checks.unitInterval(at + "vit_cond_dropout_prob", vitCondDropoutProb, false);
    Checks.positive(at + "timestep_shift", timestepShift);
    Checks.oneOf(at + "attn_implementation", attnImplementation, ATTN_IMPLEMENTATIONS);
    if (attnImplementation.equals("nsa") && nsa == null) {
      nsa = NsaConfig.defaults(); // LMMS Engine's defaults; model.nsa / monkey_patch_kwargs tune them
    }
    if (!visualGen && !visualUnd && freezeLlm) {
      throw new ConfigException(at + "freeze_llm with visual_gen and visual_und both false leaves nothing to train");
    }
  }

  /** True when the weights come from somewhere: a preset, a BAGEL folder or at least an LLM path. */
  public boolean hasWeightsSource() {
    return preset != null || modelPath != null || llmPath != null;
  }
}
