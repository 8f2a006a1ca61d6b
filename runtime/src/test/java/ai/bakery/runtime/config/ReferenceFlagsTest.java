package ai.bakery.runtime.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.model.config.ConfigException;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ReferenceFlagsTest {

  /**
   * Every field of the reference's ModelArguments, DataArguments and TrainingArguments
   * (train/pretrain_unified_navit.py), with a non-default value and the JSON value it must bind to.
   */
  static final Map<String, String[]> FLAGS = new LinkedHashMap<>();

  static {
    // ModelArguments
    flag("llm_path", "/w/qwen", "\"/w/qwen\"", "model.llm_path");
    flag("llm_qk_norm", "False", "false", "model.llm_qk_norm");
    flag("tie_word_embeddings", "True", "true", "model.tie_word_embeddings");
    flag("layer_module", "Qwen2MoEDecoderLayer", "\"Qwen2MoEDecoderLayer\"", "model.layer_module");
    flag("vae_path", "/w/ae.safetensors", "\"/w/ae.safetensors\"", "model.vae_path");
    flag("vit_path", "/w/siglip", "\"/w/siglip\"", "model.vit_path");
    flag("max_latent_size", "64", "64", "model.max_latent_size");
    flag("latent_patch_size", "4", "4", "model.latent_patch_size");
    flag("vit_patch_size", "16", "16", "model.vit_patch_size");
    flag("vit_max_num_patch_per_side", "36", "36", "model.vit_max_num_patch_per_side");
    flag("connector_act", "gelu", "\"gelu\"", "model.connector_act");
    flag("interpolate_pos", "true", "true", "model.interpolate_pos");
    flag("vit_select_layer", "-1", "-1", "model.vit_select_layer");
    flag("vit_rope", "1", "true", "model.vit_rope");
    flag("text_cond_dropout_prob", "0.2", "0.2", "model.text_cond_dropout_prob");
    flag("vae_cond_dropout_prob", "0.25", "0.25", "model.vae_cond_dropout_prob");
    flag("vit_cond_dropout_prob", "0.35", "0.35", "model.vit_cond_dropout_prob");
    // DataArguments
    flag("dataset_config_file", "/w/groups.yaml", "\"/w/groups.yaml\"", "data.dataset_config_file");
    flag("prefetch_factor", "3", "3", "data.prefetch_factor");
    flag("num_workers", "1", "1", "runtime.num_workers");
    flag("max_num_tokens_per_sample", "8192", "8192", "data.packing.max_num_tokens_per_sample");
    flag("max_num_tokens", "40000", "40000", "data.packing.max_num_tokens");
    flag("prefer_buffer_before", "4096", "4096", "data.packing.prefer_buffer_before");
    flag("max_buffer_size", "7", "7", "data.packing.max_buffer_size");
    flag("data_seed", "7", "7", "data.data_seed");
    // TrainingArguments
    flag("visual_gen", "False", "false", "training.loop.visual_gen");
    flag("visual_und", "false", "false", "model.visual_und");
    flag("results_dir", "/w/out", "\"/w/out\"", "training.loop.results_dir");
    flag("checkpoint_dir", "/w/ckpt", "\"/w/ckpt\"", "training.checkpoint.checkpoint_dir");
    flag("wandb_project", "p", null, null);
    flag("wandb_name", "n", null, null);
    flag("wandb_runid", "1", null, null);
    flag("wandb_resume", "must", null, null);
    flag("wandb_offline", "True", null, null);
    flag("global_seed", "11", "11", "training.loop.global_seed");
    flag("auto_resume", "True", "true", "training.checkpoint.auto_resume");
    flag("resume_from", "/w/ckpt/0000100", "\"/w/ckpt/0000100\"", "training.checkpoint.resume_from");
    flag("resume_model_only", "True", "true", "training.checkpoint.resume_model_only");
    flag("finetune_from_ema", "True", "true", "training.checkpoint.finetune_from_ema");
    flag("log_every", "1", "1", "training.loop.log_every");
    flag("save_every", "100", "100", "training.checkpoint.save_every");
    flag("total_steps", "1e4", "10000", "training.schedule.total_steps");
    flag("warmup_steps", "50", "50", "training.schedule.warmup_steps");
    flag("lr_scheduler", "cosine", "\"cosine\"", "training.schedule.lr_scheduler");
    flag("lr", "2e-5", "2.0E-5", "training.optimizer.lr");
    flag("min_lr", "1e-6", "1.0E-6", "training.schedule.min_lr");
    flag("beta1", "0.8", "0.8", "training.optimizer.beta1");
    flag("beta2", "0.99", "0.99", "training.optimizer.beta2");
    flag("eps", "1e-8", "1.0E-8", "training.optimizer.eps");
    flag("ema", "0.999", "0.999", "training.ema.ema");
    flag("max_grad_norm", "0.5", "0.5", "training.optimizer.max_grad_norm");
    flag("timestep_shift", "3.0", "3.0", "model.timestep_shift");
    flag("mse_weight", "2", "2.0", "training.loop.mse_weight");
    flag("ce_weight", "0.5", "0.5", "training.loop.ce_weight");
    flag("ce_loss_reweighting", "True", "true", "training.loop.ce_loss_reweighting");
    flag("expected_num_tokens", "10240", "10240", "data.packing.expected_num_tokens");
    flag("gradient_accumulation_steps", "4", "4", "training.loop.gradient_accumulation_steps");
    flag("peak_device_tflops", "989", "989.0", "training.loop.peak_device_tflops");
    flag("num_replicate", "2", "2", "parallel.num_replicate");
    flag("num_shard", "4", "4", "parallel.num_shard");
    flag("sharding_strategy", "FULL_SHARD", "\"FULL_SHARD\"", "parallel.sharding_strategy");
    flag("backward_prefetch", "NO_PREFETCH", "\"NO_PREFETCH\"", "parallel.backward_prefetch");
    flag("cpu_offload", "True", "true", "parallel.cpu_offload");
    flag("freeze_llm", "True", "true", "model.freeze_llm");
    flag("freeze_vit", "True", "true", "training.loop.freeze_vit");
    flag("freeze_vae", "False", "false", "model.freeze_vae");
    flag("freeze_und", "True", "true", "model.freeze_und");
    flag("copy_init_moe", "False", "false", "model.copy_init_moe");
    flag("use_flex", "True", null, null);
  }

  private static void flag(String name, String value, String json, String path) {
    FLAGS.put(name, new String[] {value, json, path});
  }

  private static JsonNode tree(LoadedJob job) {
    return ConfigBinder.MAPPER.valueToTree(job.config());
  }

  private static JsonNode at(JsonNode tree, String path) {
    JsonNode n = tree;
    for (String p : path.split("\\.")) {
      n = n.get(p);
    }
    return n;
  }

  @Test
  void everyReferenceFlagBindsToItsTypedValueInBothSpellings() {
    for (var e : FLAGS.entrySet()) {
      String name = e.getKey();
      String[] v = e.getValue();
      for (String spelling : List.of(name, name.replace('_', '-'))) {
        LoadedJob job = JobConfigLoader.fromReferenceFlags(List.of("--" + spelling, v[0]));
        if (v[2] == null) {
          assertTrue(job.notes().stream().anyMatch(n -> n.contains(name)), name + " reported: " + job.notes());
        } else {
          assertEquals(v[1], at(tree(job), v[2]).toString(), "--" + spelling + " " + v[0]);
        }
      }
    }
  }

  @Test
  void modelPathAndFinetuneFromHfBindTogether() {
    LoadedJob job = JobConfigLoader.fromReferenceFlags(List.of("--model_path", "/w/BAGEL-7B-MoT",
        "--finetune_from_hf", "True", "--resume_from", "/w/BAGEL-7B-MoT"));
    assertEquals("/w/BAGEL-7B-MoT", job.config().model().modelPath());
    assertTrue(job.config().training().checkpoint().finetuneFromHf());
  }

  @Test
  void pretrainLaunchLineOfTheGuideParses() {
    List<String> line = List.of("torchrun", "--nnodes=2", "--node_rank=1", "--nproc_per_node=8",
        "--master_addr=10.0.0.1", "--master_port=29501", "train/pretrain_unified_navit.py",
        "--dataset_config_file", "./data/configs/example.yaml", "--llm_path", "/m/qwen", "--vae_path",
        "/m/ae.safetensors", "--vit_path", "/m/siglip", "--layer_module", "Qwen2MoTDecoderLayer",
        "--use_flex", "True", "--resume_from", "/ckpt/0000500", "--results_dir", "/out", "--checkpoint_dir",
        "/ckpt", "--max_latent_size", "64");
    LoadedJob job = JobConfigLoader.fromReferenceFlags(line);
    JobConfig c = job.config();
    assertEquals(Dialect.REFERENCE_FLAGS, job.dialect());
    assertEquals(2, c.launch().nnodes());
    assertEquals(1, c.launch().nodeRank());
    assertEquals(8, c.launch().nprocPerNode());
    assertEquals("10.0.0.1", c.launch().masterAddr());
    assertEquals(29501, c.launch().masterPort());
    assertEquals(16, c.launch().worldSize());
    assertEquals("./data/configs/example.yaml", c.data().datasetConfigFile());
    assertEquals("/m/qwen", c.model().llmPath());
    assertEquals("/m/ae.safetensors", c.model().vaePath());
    assertEquals("/m/siglip", c.model().vitPath());
    assertEquals("Qwen2MoTDecoderLayer", c.model().layerModule());
    assertEquals(Path.of("/ckpt/0000500"), c.training().checkpoint().resumeFrom());
    assertEquals("/out", c.output().resultsDir());
    assertEquals(Path.of("/out"), c.training().loop().resultsDir());
    assertEquals(Path.of("/ckpt"), c.training().checkpoint().checkpointDir());
    assertEquals(64, c.model().maxLatentSize());
    assertNull(c.model().modelPath());
    // reference defaults kept where the line is silent
    assertEquals(1e-4, c.training().optimizer().lr());
    assertEquals(500_000, c.training().schedule().totalSteps());
    assertTrue(job.notes().stream().anyMatch(n -> n.contains("use_flex")), job.notes().toString());
    assertTrue(job.notes().stream().anyMatch(n -> n.contains("torchrun")));
  }

  @Test
  void finetuneLaunchLineOfTheGuideParsesWithDashesAndAbbreviation() {
    List<String> line = List.of("train/pretrain_unified_navit.py", "--dataset_config_file",
        "./data/configs/example.yaml", "--model_path", "/m/BAGEL-7B-MoT", "--layer_module", "Qwen2MoTDecoderLayer",
        "--max_latent_size", "64", "--resume-from", "/m/BAGEL-7B-MoT", "--finetune_from_hf", "True",
        "--auto_resume", "True", "--resume-model-only", "True", "--finetune-from-ema", "True", "--log_every", "1",
        "--lr", "2e-5", "--num_worker", "1", "--expected_num_tokens", "10240", "--max_num_tokens", "11520",
        "--max_num_tokens_per_sample", "10240");
    JobConfig c = JobConfigLoader.fromReferenceFlags(line).config();
    assertEquals("/m/BAGEL-7B-MoT", c.model().modelPath());
    assertEquals(Path.of("/m/BAGEL-7B-MoT"), c.training().checkpoint().resumeFrom());
    assertTrue(c.training().checkpoint().finetuneFromHf());
    assertTrue(c.training().checkpoint().autoResume());
    assertTrue(c.training().checkpoint().resumeModelOnly());
    assertTrue(c.training().checkpoint().finetuneFromEma());
    assertEquals(1, c.training().loop().logEvery());
    assertEquals(2e-5, c.training().optimizer().lr());
    assertEquals(1, c.runtime().numWorkers()); // --num_worker is argparse's abbreviation of --num_workers
    assertEquals(10240, c.data().packing().expectedNumTokens());
    assertEquals(11520, c.data().packing().maxNumTokens());
    assertEquals(10240, c.data().packing().maxNumTokensPerSample());
  }

  @Test
  void booleanFlagsAcceptBareAndNegatedForms() {
    JobConfig c = JobConfigLoader.fromReferenceFlags(List.of("--freeze_llm", "--no_visual_gen", "--auto-resume"))
        .config();
    assertTrue(c.model().freezeLlm());
    assertFalse(c.model().visualGen());
    assertTrue(c.training().checkpoint().autoResume());
  }

  @Test
  void badFlagsAreRejectedWithTheFlagNamed() {
    var e = assertThrows(ConfigException.class, () -> JobConfigLoader.fromReferenceFlags(List.of("--lrr", "1")));
    assertEquals("unknown flag '--lrr' (did you mean '--lr'?)", e.getMessage());
    e = assertThrows(ConfigException.class,
        () -> JobConfigLoader.fromReferenceFlags(List.of("--max_latent_size", "big")));
    assertEquals("--max_latent_size: expected an integer, got 'big'", e.getMessage());
    e = assertThrows(ConfigException.class, () -> JobConfigLoader.fromReferenceFlags(List.of("--visual_gen", "maybe")));
    assertEquals("--visual_gen: expected true or false, got 'maybe'", e.getMessage());
    e = assertThrows(ConfigException.class, () -> JobConfigLoader.fromReferenceFlags(List.of("--lr", "-1")));
    assertTrue(e.getMessage().contains("lr must be finite and > 0, got -1.0") && e.getMessage().endsWith(
        "(set by --lr)"), e.getMessage());
    e = assertThrows(ConfigException.class, () -> JobConfigLoader.fromReferenceFlags(List.of("--max_num")));
    assertTrue(e.getMessage().contains("ambiguous"), e.getMessage());
    e = assertThrows(ConfigException.class, () -> JobConfigLoader.fromReferenceFlags(List.of("--lr")));
    assertEquals("--lr needs a value", e.getMessage());
  }

  @Test
  void theFlagTableCoversExactlyTheReferenceArguments() {
    List<String> missing = new ArrayList<>();
    for (String f : FLAGS.keySet()) {
      if (!ReferenceFlags.names().contains(f)) {
        missing.add(f);
      }
    }
    assertTrue(missing.isEmpty(), "not accepted: " + missing);
    for (String path : ReferenceFlags.PATHS.values()) {
      assertTrue(ConfigSchema.job().kind(path).isPresent(), path);
    }
  }
}
