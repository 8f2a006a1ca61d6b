package ai.bakery.runtime.config;

import ai.bakery.model.config.ConfigException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads an LMMS Engine training config into Bakery's layout. Two shapes are in use: the current one, a mapping
 * with {@code trainer_type}, {@code dataset_config}, {@code model_config} and {@code trainer_args}; and the
 * older list form {@code - type: trainer / config: {...}} whose trainer arguments sit directly in
 * {@code config}.
 */
final class LmmsEngineConfig {
  private LmmsEngineConfig() {}

  static final Set<String> TOP_LEVEL = Set.of("trainer_type", "dataset_config", "model_config", "trainer_args",
      "extra_kwargs");
  static final Set<String> TRAINER_TYPES = Set.of("fsdp2_trainer", "hf_trainer");

  /** Dataset options with no counterpart here, and why. */
  static final Map<String, String> DATASET_IGNORED = new LinkedHashMap<>();
  /** Model options with no counterpart here, and why. */
  static final Map<String, String> MODEL_IGNORED = new LinkedHashMap<>();

  static {
    String remote = "datasets are read from local paths";
    DATASET_IGNORED.put("object_storage", remote);
    DATASET_IGNORED.put("bucket_name", remote);
    DATASET_IGNORED.put("eval_dataset_path", "Bakery's train command does not evaluate");
    String packer = "Bakery's packer skips samples over max_num_tokens_per_sample and caps packs itself";
    DATASET_IGNORED.put("filter_overlong", packer);
    DATASET_IGNORED.put("filter_overlong_workers", packer);
    DATASET_IGNORED.put("max_length", packer);
    String video = "video frames are sampled by the dataset group's frame_sampler_args";
    for (String f : new String[] {"video_sampling_strategy", "frame_num", "fps"}) {
      DATASET_IGNORED.put(f, video);
    }
    DATASET_IGNORED.put("tokenizer", "the tokenizer is read from processor_config.processor_name or the model");
    MODEL_IGNORED.put("model_type", "the model type is always BAGEL");
    MODEL_IGNORED.put("load_from_config", "use model.preset or model.model_path");
    MODEL_IGNORED.put("overwrite_config", "use the reference-style model fields (extra_kwargs) instead");
    MODEL_IGNORED.put("pretrain_mm_mlp_adapter", "not part of BAGEL");
    MODEL_IGNORED.put("load_with_custom_loader", "weights load from safetensors folders");
  }

  /** True when {@code root} looks like an LMMS Engine config of either shape. */
  static boolean matches(JsonNode root) {
    if (root.isArray()) {
      return root.size() > 0 && root.get(0).has("type");
    }
    if (!root.isObject()) {
      return false;
    }
    for (String k : TOP_LEVEL) {
      if (root.has(k)) {
        return true;
      }
    }
    return false;
  }

  /** @return true when the file used the older list form */
  static boolean read(JsonNode root, ConfigDraft draft) {
    JsonNode config = root;
    boolean listForm = root.isArray();
    if (listForm) {
      config = null;
      for (int i = 0; i < root.size(); i++) {
        JsonNode item = root.get(i);
        String type = item.path("type").asText("");
        if (!type.equals("trainer")) {
          throw new ConfigException("[" + i + "].type: '" + type + "' is not supported (only 'trainer')"
              + NameSuggester.hint(type, List.of("trainer")));
        }
        if (config != null) {
          throw new ConfigException("[" + i + "]: only one '- type: trainer' entry is allowed");
        }
        config = item.get("config");
        if (config == null || !config.isObject()) {
          throw new ConfigException("[" + i + "].config: expected a mapping with the trainer config");
        }
        item.fieldNames().forEachRemaining(k -> {
          if (!k.equals("type") && !k.equals("config")) {
            throw ConfigDraft.unknown(k, "list entry", List.of("type", "config"));
          }
        });
      }
    }
    ObjectNode top = (ObjectNode) config;
    JsonNode trainerType = top.get("trainer_type");
    if (trainerType != null && !TRAINER_TYPES.contains(trainerType.asText())) {
      throw new ConfigException("trainer_type: '" + trainerType.asText() + "' is not supported; use one of "
          + TRAINER_TYPES + NameSuggester.hint(trainerType.asText(), TRAINER_TYPES));
    }
    applyHfDefaults(draft);
    if (top.has("dataset_config")) {
      readDataset(top.get("dataset_config"), draft);
    }
    if (top.has("model_config")) {
      readModel(top.get("model_config"), draft);
    }
    if (top.has("trainer_args")) {
      readTrainerArgs(top.get("trainer_args"), draft, "trainer_args");
    }
    JsonNode extra = top.get("extra_kwargs");
    if (extra != null && FlatKeys.isSet(extra)) {
      readReferenceKwargs(extra, draft, "extra_kwargs");
    }
    // Older files put trainer arguments beside the sections.
    ObjectNode flat = top.objectNode();
    top.fields().forEachRemaining(e -> {
      if (!TOP_LEVEL.contains(e.getKey())) {
        flat.set(e.getKey(), e.getValue());
      }
    });
    readTrainerArgs(flat, draft, listForm || !top.has("trainer_args") ? "trainer config" : "config");
    return listForm;
  }

  /**
   * HF TrainingArguments defaults where they differ from the reference trainer's, so an LMMS file means what it
   * meant there. The lr schedule stays constant: HF's default (linear decay) has no counterpart here.
   */
  private static void applyHfDefaults(ConfigDraft draft) {
    String hf = "LMMS/HF default";
    draft.set("training.optimizer.lr", "5e-5", hf);
    draft.set("training.optimizer.beta2", "0.999", hf);
    draft.set("training.optimizer.eps", "1e-8", hf);
    draft.set("training.schedule.warmup_steps", "0", hf);
    draft.set("training.schedule.min_lr", "0", hf);
    draft.set("training.loop.log_every", "500", hf);
    draft.set("training.checkpoint.save_every", "500", hf);
    draft.set("runtime.seed", "42", hf);
    draft.set("runtime.num_workers", "0", hf);
    draft.set("model.gradient_checkpointing", "false", hf);
    draft.set("model.bf16", "false", hf);
    draft.set("output.results_dir", "trainer_output", hf);
  }

  private static void readTrainerArgs(JsonNode args, ConfigDraft draft, String where) {
    if (args.isNull()) {
      return;
    }
    if (!args.isObject()) {
      throw new ConfigException(where + ": expected a mapping");
    }
    // output_dir first, so an explicit checkpoint location is not overwritten by its derived default.
    if (args.has("output_dir")) {
      FlatKeys.apply("output_dir", args.get("output_dir"), draft, where + ".output_dir");
    }
    args.fields().forEachRemaining(e -> {
      String name = e.getKey();
      if (name.equals("output_dir")) {
        return;
      }
      if (!FlatKeys.names().contains(name) || name.contains(".")) {
        throw ConfigDraft.unknown(name, where, FlatKeys.names());
      }
      FlatKeys.apply(name, e.getValue(), draft, where.equals("trainer config") ? name : where + "." + name);
    });
  }

  private static void readDataset(JsonNode ds, ConfigDraft draft) {
    String where = "dataset_config";
    if (!ds.isObject()) {
      throw new ConfigException(where + ": expected a mapping");
    }
    List<String> fields = ConfigSchema.job().childNames("data.dataset");
    List<String> valid = new java.util.ArrayList<>(fields);
    valid.addAll(DATASET_IGNORED.keySet());
    ds.fields().forEachRemaining(e -> {
      String name = e.getKey();
      if (DATASET_IGNORED.containsKey(name)) {
        if (FlatKeys.isSet(e.getValue())) {
          draft.ignore(where + "." + name, DATASET_IGNORED.get(name));
        }
      } else if (fields.contains(name)) {
        if (name.equals("processor_config") && e.getValue().isObject()) {
          readProcessor(e.getValue(), draft);
        } else {
          draft.set("data.dataset." + name, e.getValue(), where + "." + name);
        }
      } else {
        throw ConfigDraft.unknown(name, where, valid);
      }
    });
    JsonNode packing = draft.get("data.dataset.packing");
    JsonNode length = draft.get("data.dataset.packing_length");
    if (packing != null && packing.asBoolean() && length != null) {
      // first_fit packs to a fixed length: the reference packer does the same with expected = max = length.
      int n = length.asInt();
      String src = where + ".packing_length";
      draft.set("data.packing.expected_num_tokens", IntNode.valueOf(n), src);
      draft.set("data.packing.max_num_tokens", IntNode.valueOf(n), src);
      draft.set("data.packing.max_num_tokens_per_sample", IntNode.valueOf(n), src);
      draft.set("data.packing.prefer_buffer_before", IntNode.valueOf(Math.min(n, 16384)), src);
    } else if (packing != null && !packing.asBoolean()) {
      draft.note(where + ".packing is false: Bakery always packs samples (up to data.packing.max_num_tokens)");
    }
  }

  private static void readProcessor(JsonNode proc, ConfigDraft draft) {
    String where = "dataset_config.processor_config";
    List<String> fields = ConfigSchema.job().childNames("data.dataset.processor_config");
    proc.fields().forEachRemaining(e -> {
      if (!fields.contains(e.getKey())) {
        throw ConfigDraft.unknown(e.getKey(), where, fields);
      }
      draft.set("data.dataset.processor_config." + e.getKey(), e.getValue(), where + "." + e.getKey());
    });
  }

  private static void readModel(JsonNode model, ConfigDraft draft) {
    String where = "model_config";
    if (!model.isObject()) {
      throw new ConfigException(where + ": expected a mapping");
    }
    List<String> valid = new java.util.ArrayList<>(List.of("load_from_pretrained_path", "attn_implementation",
        "extra_kwargs", "monkey_patch_kwargs", "torch_dtype"));
    valid.addAll(MODEL_IGNORED.keySet());
    model.fields().forEachRemaining(e -> {
      String name = e.getKey();
      JsonNode v = e.getValue();
      String src = where + "." + name;
      switch (name) {
        case "load_from_pretrained_path" -> draft.set("model.model_path", v, src);
        case "attn_implementation" -> draft.set("model.attn_implementation", v, src);
        case "extra_kwargs" -> readReferenceKwargs(v, draft, src);
        case "monkey_patch_kwargs" -> readNsa(v, draft, src);
        case "torch_dtype" -> torchDtype(v, draft, src);
        default -> {
          if (MODEL_IGNORED.containsKey(name)) {
            if (FlatKeys.isSet(v)) {
              draft.ignore(src, MODEL_IGNORED.get(name));
            }
          } else {
            throw ConfigDraft.unknown(name, where, valid);
          }
        }
      }
    });
  }

  /** {@code extra_kwargs} carry reference-trainer arguments (e.g. {@code visual_und: false}). */
  private static void readReferenceKwargs(JsonNode kwargs, ConfigDraft draft, String where) {
    if (kwargs.isNull()) {
      return;
    }
    if (!kwargs.isObject()) {
      throw new ConfigException(where + ": expected a mapping");
    }
    kwargs.fields().forEachRemaining(e -> {
      if (!ReferenceFlags.names().contains(e.getKey())) {
        throw ConfigDraft.unknown(e.getKey(), where, ReferenceFlags.names());
      }
      FlatKeys.apply(e.getKey(), e.getValue(), draft, where + "." + e.getKey());
    });
  }

  private static void readNsa(JsonNode kwargs, ConfigDraft draft, String where) {
    if (kwargs.isNull()) {
      return;
    }
    if (!kwargs.isObject()) {
      throw new ConfigException(where + ": expected a mapping");
    }
    List<String> fields = ConfigSchema.job().childNames("model.nsa");
    kwargs.fields().forEachRemaining(e -> {
      if (!fields.contains(e.getKey())) {
        throw ConfigDraft.unknown(e.getKey(), where, fields);
      }
      draft.set("model.nsa." + e.getKey(), e.getValue(), where + "." + e.getKey());
    });
  }

  private static void torchDtype(JsonNode v, ConfigDraft draft, String src) {
    String dtype = v.asText();
    switch (dtype) {
      case "bfloat16", "bf16" -> draft.set("model.bf16", BooleanNode.TRUE, src);
      case "float32", "fp32" -> draft.set("model.bf16", BooleanNode.FALSE, src);
      case "", "null", "auto" -> { }
      default -> throw new ConfigException(src + ": '" + dtype + "' is not supported; use bfloat16 or float32");
    }
  }
}
