package ai.bakery.runtime.config;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The reference trainer's command-line flags ({@code train/pretrain_unified_navit.py}: ModelArguments,
 * DataArguments, TrainingArguments) and torchrun's launch flags, each mapped to where it lives in Bakery's
 * config. Flags with no effect here are accepted and reported, not dropped silently.
 */
final class ReferenceFlags {
  private ReferenceFlags() {}

  /** Flag name (underscore spelling) to Bakery path. */
  static final Map<String, String> PATHS = new LinkedHashMap<>();
  /** Flags accepted for compatibility that do nothing here, with why. */
  static final Map<String, String> IGNORED = new LinkedHashMap<>();

  static {
    for (String f : new String[] {"model_path", "llm_path", "llm_qk_norm", "tie_word_embeddings", "layer_module",
        "vae_path", "vit_path", "max_latent_size", "latent_patch_size", "vit_patch_size",
        "vit_max_num_patch_per_side", "connector_act", "interpolate_pos", "vit_select_layer", "vit_rope",
        "text_cond_dropout_prob", "vae_cond_dropout_prob", "vit_cond_dropout_prob", "visual_gen", "visual_und",
        "freeze_llm", "freeze_vit", "freeze_vae", "freeze_und", "copy_init_moe", "timestep_shift"}) {
      PATHS.put(f, "model." + f);
    }
    PATHS.put("dataset_config_file", "data.dataset_config_file");
    PATHS.put("prefetch_factor", "data.prefetch_factor");
    PATHS.put("data_seed", "data.data_seed");
    for (String f : new String[] {"max_num_tokens_per_sample", "max_num_tokens", "prefer_buffer_before",
        "max_buffer_size", "expected_num_tokens"}) {
      PATHS.put(f, "data.packing." + f);
    }
    PATHS.put("num_workers", "runtime.num_workers");
    PATHS.put("global_seed", "runtime.seed");
    PATHS.put("results_dir", "output.results_dir");
    PATHS.put("checkpoint_dir", "output.checkpoint_dir");
    for (String f : new String[] {"auto_resume", "resume_from", "resume_model_only", "finetune_from_ema",
        "finetune_from_hf", "save_every"}) {
      PATHS.put(f, "training.checkpoint." + f);
    }
    for (String f : new String[] {"log_every", "gradient_accumulation_steps", "ce_weight", "mse_weight",
        "ce_loss_reweighting", "peak_device_tflops"}) {
      PATHS.put(f, "training.loop." + f);
    }
    for (String f : new String[] {"total_steps", "warmup_steps", "lr_scheduler", "min_lr"}) {
      PATHS.put(f, "training.schedule." + f);
    }
    for (String f : new String[] {"lr", "beta1", "beta2", "eps", "max_grad_norm"}) {
      PATHS.put(f, "training.optimizer." + f);
    }
    PATHS.put("ema", "training.ema.ema");
    for (String f : new String[] {"num_replicate", "num_shard", "sharding_strategy", "backward_prefetch",
        "cpu_offload"}) {
      PATHS.put(f, "parallel." + f);
    }
    for (String f : new String[] {"nnodes", "node_rank", "nproc_per_node", "master_addr", "master_port"}) {
      PATHS.put(f, "launch." + f);
    }
    String wandb = "Weights & Biases is not built in; metrics are written to <results_dir>/metrics.jsonl";
    for (String f : new String[] {"wandb_project", "wandb_name", "wandb_runid", "wandb_resume", "wandb_offline"}) {
      IGNORED.put(f, wandb);
    }
    IGNORED.put("use_flex", "Bakery's attention kernels take packed sequences directly (no separate FLEX mode)");
  }

  /** The reference's defaults where they differ from Bakery's own (its example paths). */
  static final Map<String, String> DEFAULT_PATHS = Map.of(
      "model.llm_path", "hf/Qwen2.5-0.5B-Instruct/",
      "model.vit_path", "hf/siglip-so400m-14-980-flash-attn2-navit/",
      "model.vae_path", "flux/vae/ae.safetensors",
      "data.dataset_config_file", "data/configs/example.yaml");

  /** The reference loads {@code model_path} only when fine-tuning from a released BAGEL folder. */
  static final String REFERENCE_MODEL_PATH = "hf/BAGEL-7B-MoT";

  static Set<String> names() {
    Set<String> all = new java.util.TreeSet<>(PATHS.keySet());
    all.addAll(IGNORED.keySet());
    return all;
  }
}
