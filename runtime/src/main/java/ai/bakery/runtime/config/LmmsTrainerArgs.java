package ai.bakery.runtime.config;

import ai.bakery.model.config.ConfigException;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * LMMS Engine's trainer arguments (Hugging Face {@code TrainingArguments} plus LMMS's own) and where each lands
 * in Bakery's config. Arguments that configure machinery Bakery does differently (FSDP wrapping, logging
 * backends, evaluation) are accepted and reported as ignored when set.
 */
final class LmmsTrainerArgs {
  private LmmsTrainerArgs() {}

  static final Map<String, String> PATHS = new LinkedHashMap<>();
  /** Arguments handled by {@link #applySpecial}. */
  static final Set<String> SPECIAL = Set.of("output_dir", "max_steps", "lr_scheduler_type", "lr_scheduler_kwargs",
      "warmup_ratio", "fp16", "freeze_modules", "per_device_train_batch_size", "save_total_limit", "data_seed",
      "dataloader_prefetch_factor", "resume_from_checkpoint", "num_train_epochs");
  static final Map<String, String> IGNORED = new LinkedHashMap<>();

  /** LMMS / HF module names accepted in {@code freeze_modules}, to Bakery's freeze flag. */
  static final Map<String, String> FREEZE_MODULES = Map.of(
      "language_model", "model.freeze_llm", "llm", "model.freeze_llm",
      "vit_model", "model.freeze_vit", "vit", "model.freeze_vit",
      "vae_model", "model.freeze_vae", "vae", "model.freeze_vae",
      "connector", "model.freeze_und", "vit_pos_embed", "model.freeze_und");

  static {
    PATHS.put("learning_rate", "training.optimizer.lr");
    PATHS.put("weight_decay", "training.optimizer.weight_decay");
    PATHS.put("adam_beta1", "training.optimizer.beta1");
    PATHS.put("adam_beta2", "training.optimizer.beta2");
    PATHS.put("adam_epsilon", "training.optimizer.eps");
    PATHS.put("max_grad_norm", "training.optimizer.max_grad_norm");
    PATHS.put("warmup_steps", "training.schedule.warmup_steps");
    PATHS.put("gradient_accumulation_steps", "training.loop.gradient_accumulation_steps");
    PATHS.put("logging_steps", "training.loop.log_every");
    PATHS.put("save_steps", "training.checkpoint.save_every");
    PATHS.put("seed", "runtime.seed");
    PATHS.put("dataloader_num_workers", "runtime.num_workers");
    PATHS.put("bf16", "model.bf16");
    PATHS.put("gradient_checkpointing", "model.gradient_checkpointing");

    String sharding = "Bakery shards parameters itself (see the parallel section); FSDP wrapping options do not apply";
    for (String f : new String[] {"fsdp2", "fsdp", "fsdp_config", "fsdp_min_num_params",
        "fsdp_transformer_layer_cls_to_wrap", "sp_ulysses_degree", "ep_degree", "reduce_dtype", "output_dtype",
        "ddp_backend", "ddp_find_unused_parameters", "ddp_bucket_cap_mb", "ddp_broadcast_buffers", "ddp_timeout",
        "deepspeed", "accelerator_config", "parallelism_config", "local_rank", "use_rmpad"}) {
      IGNORED.put(f, sharding);
    }
    String logging = "logging goes to the console and <results_dir> (log file, metrics.jsonl)";
    for (String f : new String[] {"report_to", "logging_dir", "logging_strategy", "logging_first_step",
        "logging_nan_inf_filter", "log_level", "log_level_replica", "log_on_each_node", "run_name", "project",
        "trackio_space_id", "disable_tqdm", "print_batch_input_steps", "enable_profiler", "profiler_config",
        "skip_memory_metrics", "include_tokens_per_second", "include_num_input_tokens_seen"}) {
      IGNORED.put(f, logging);
    }
    String eval = "Bakery's train command does not evaluate";
    for (String f : new String[] {"do_train", "do_eval", "do_predict", "eval_strategy", "prediction_loss_only",
        "per_device_eval_batch_size", "eval_accumulation_steps", "eval_delay", "eval_steps", "jit_mode_eval",
        "bf16_full_eval", "fp16_full_eval", "load_best_model_at_end", "metric_for_best_model", "greater_is_better",
        "include_inputs_for_metrics", "include_for_metrics", "eval_do_concat_batches", "batch_eval_metrics",
        "eval_on_start", "eval_use_gather_object", "use_legacy_prediction_loop", "label_names", "past_index"}) {
      IGNORED.put(f, eval);
    }
    String hub = "checkpoints are written as safetensors step folders; Hub upload is not built in";
    for (String f : new String[] {"push_to_hub", "hub_model_id", "hub_strategy", "hub_token", "hub_private_repo",
        "hub_always_push", "hub_revision", "push_to_hub_model_id", "push_to_hub_organization", "push_to_hub_token",
        "save_safetensors", "save_on_each_node", "save_only_model", "save_strategy", "overwrite_output_dir",
        "restore_callback_states_from_checkpoint"}) {
      IGNORED.put(f, hub);
    }
    String engine = "not applicable to Bakery's trainer (it always uses AdamW, packed batches and its own kernels)";
    for (String f : new String[] {"torch_empty_cache_steps", "no_cuda", "use_cpu", "use_mps_device", "fp16_opt_level",
        "half_precision_backend", "tf32", "tpu_num_cores", "tpu_metrics_debug", "debug", "dataloader_drop_last",
        "remove_unused_columns", "ignore_data_skip", "label_smoothing_factor", "optim", "optim_args", "adafactor",
        "group_by_length", "length_column_name", "dataloader_pin_memory", "dataloader_persistent_workers",
        "gradient_checkpointing_kwargs", "fp16_backend", "mp_parameters", "auto_find_batch_size",
        "full_determinism", "torchdynamo", "ray_scope", "torch_compile", "torch_compile_backend",
        "torch_compile_mode", "neftune_noise_alpha", "optim_target_modules", "use_liger_kernel",
        "liger_kernel_config", "average_tokens_across_devices", "use_muon", "xla", "xla_fsdp_v2",
        "xla_fsdp_grad_ckpt", "dispatch_batches", "split_batches", "seed_workers"}) {
      IGNORED.put(f, engine);
    }
  }

  static Set<String> names() {
    Set<String> all = new TreeSet<>(PATHS.keySet());
    all.addAll(SPECIAL);
    all.addAll(IGNORED.keySet());
    return all;
  }

  /** Whether a bare {@code --name} (no value) means true. */
  static boolean isBoolean(String name) {
    return name.equals("fp16") || IGNORED.containsKey(name) && !name.equals("fsdp_config");
  }

  /** Applies one argument that is not a plain path mapping. */
  static void applySpecial(String name, JsonNode value, ConfigDraft draft, String source) {
    switch (name) {
      case "output_dir" -> {
        String dir = ValueKind.STRING.convert(value, source).asText();
        draft.set("output.results_dir", dir, source); // checkpoints go to <dir>/checkpoints unless set
      }
      case "max_steps" -> {
        long steps = ValueKind.LONG.convert(value, source).asLong();
        if (steps > 0) {
          // HF's max_steps is the run's length and the schedule's horizon: Bakery's total_steps.
          draft.set("training.schedule.total_steps", value, source);
        } else {
          draft.note(source + " = " + steps + ": training length comes from total_steps ("
              + "Bakery streams data, so set max_steps > 0)");
        }
      }
      case "num_train_epochs" -> draft.ignore(name, "Bakery streams data and trains for max_steps optimizer steps");
      case "lr_scheduler_type" -> draft.set("training.schedule.lr_scheduler", scheduler(value, source), source);
      case "lr_scheduler_kwargs" -> schedulerKwargs(value, draft, source);
      case "warmup_ratio" -> draft.defer(name, ValueKind.DOUBLE.convert(value, source).asDouble(), source);
      case "fp16" -> {
        if (ValueKind.bool(value, source)) {
          throw new ConfigException(source + ": fp16 training is not supported; use bf16: true");
        }
      }
      case "freeze_modules" -> freeze(value, draft, source);
      case "per_device_train_batch_size" -> {
        long n = ValueKind.LONG.convert(value, source).asLong();
        if (n != 1) {
          draft.ignore(name + "=" + n, "Bakery trains on packed sequences: a step takes one pack of up to "
              + "max_num_tokens tokens per rank (raise packing_length instead)");
        }
      }
      case "save_total_limit" -> {
        if (!value.isNull()) {
          draft.set("training.checkpoint.keep_last", value, source);
        }
      }
      case "data_seed" -> {
        if (!value.isNull()) {
          draft.set("data.data_seed", value, source);
        }
      }
      case "dataloader_prefetch_factor" -> {
        if (!value.isNull()) {
          draft.set("data.prefetch_factor", value, source);
        }
      }
      case "resume_from_checkpoint" -> {
        if (!value.isNull() && !(value.isBoolean() && !value.booleanValue())) {
          if (value.isBoolean() || "true".equalsIgnoreCase(value.asText())) {
            draft.set("training.checkpoint.auto_resume", value, source);
          } else {
            draft.set("training.checkpoint.resume_from", value, source);
          }
        }
      }
      default -> throw new IllegalStateException(name);
    }
  }

  /**
   * Resolves arguments that depend on others once all are known: {@code warmup_ratio} (of total_steps, when no
   * explicit warmup_steps) and {@code min_lr_rate} (a fraction of the peak lr).
   */
  static void finish(ConfigDraft draft) {
    draft.deferred("warmup_ratio").ifPresent(ratio -> {
      JsonNode explicit = draft.get("training.schedule.warmup_steps");
      if (explicit == null || explicit.asLong() == 0) {
        JsonNode total = draft.get("training.schedule.total_steps");
        long steps = total == null ? JobConfig.DEFAULTS.training().schedule().totalSteps() : total.asLong();
        draft.set("training.schedule.warmup_steps",
            com.fasterxml.jackson.databind.node.LongNode.valueOf((long) Math.ceil(ratio * steps)),
            draft.deferredSource("warmup_ratio"));
      }
    });
    draft.deferred("min_lr_rate").ifPresent(rate -> {
      JsonNode lr = draft.get("training.optimizer.lr");
      double peak = lr == null ? JobConfig.DEFAULTS.training().optimizer().lr() : lr.asDouble();
      draft.set("training.schedule.min_lr", com.fasterxml.jackson.databind.node.DoubleNode.valueOf(rate * peak),
          draft.deferredSource("min_lr_rate"));
    });
  }

  private static String scheduler(JsonNode value, String source) {
    String s = ValueKind.STRING.convert(value, source).asText();
    return switch (s) {
      case "constant", "constant_with_warmup" -> "constant";
      case "cosine", "cosine_with_min_lr" -> "cosine";
      default -> throw new ConfigException(source + ": lr_scheduler_type '" + s + "' is not supported; use "
          + "constant, constant_with_warmup, cosine or cosine_with_min_lr");
    };
  }

  private static void schedulerKwargs(JsonNode value, ConfigDraft draft, String source) {
    if (value.isNull()) {
      return;
    }
    JsonNode kwargs = ValueKind.MAP.convert(value, source);
    kwargs.fields().forEachRemaining(e -> {
      switch (e.getKey()) {
        case "min_lr" -> draft.set("training.schedule.min_lr", e.getValue(), source + ".min_lr");
        case "min_lr_rate" -> draft.defer("min_lr_rate",
            ValueKind.DOUBLE.convert(e.getValue(), source + ".min_lr_rate").asDouble(), source + ".min_lr_rate");
        default -> throw ConfigDraft.unknown(e.getKey(), source, List.of("min_lr", "min_lr_rate"));
      }
    });
  }

  private static void freeze(JsonNode value, ConfigDraft draft, String source) {
    if (value.isNull()) {
      return;
    }
    for (JsonNode m : ValueKind.LIST.convert(value, source)) {
      String path = FREEZE_MODULES.get(m.asText());
      if (path == null) {
        throw new ConfigException(source + ": cannot freeze '" + m.asText() + "'; known modules: "
            + new TreeSet<>(FREEZE_MODULES.keySet()) + NameSuggester.hint(m.asText(), FREEZE_MODULES.keySet()));
      }
      draft.set(path, com.fasterxml.jackson.databind.node.BooleanNode.TRUE, source);
    }
  }
}
