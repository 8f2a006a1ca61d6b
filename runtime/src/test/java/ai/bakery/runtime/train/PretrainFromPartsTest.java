package ai.bakery.runtime.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.example.ExampleDataset;
import ai.bakery.model.config.BagelConfig;
import ai.bakery.model.config.ConfigException;
import ai.bakery.model.io.Dtype;
import ai.bakery.model.io.SafetensorsReader;
import ai.bakery.model.io.SafetensorsWriter;
import ai.bakery.model.io.TensorSource;
import ai.bakery.model.tensor.Torch;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import ai.bakery.runtime.config.TrainingSection;
import ai.bakery.runtime.infer.InferenceModel;
import ai.djl.ndarray.NDManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reference guide's pretraining command ({@code --llm_path --vit_path --vae_path}, no finetune_from_hf) on
 * {@link TinyParts}: the model starts from the parts' weights, trains, resumes, and its checkpoint reloads as a
 * released BAGEL folder ({@code --model_path} with {@code finetune_from_hf}) and for chat; broken parts fail
 * naming the flag, the file and the tensor.
 */
class PretrainFromPartsTest {
  private static final int HIDDEN = TinyParts.HIDDEN;
  private static final String LM = "language_model.model.";

  @TempDir
  Path tmp;

  @BeforeAll
  static void start() {
    Torch.init();
  }

  private static float[] vae(TrainJob.Model built, String name) {
    return built.vaeStore().get(name).value().toFloatArray();
  }

  private static float[] model(TrainJob.Model built, String name) {
    assertTrue(built.store().contains(name), name);
    return built.store().get(name).value().toFloatArray();
  }

  // --------------------------------------------------------------------------------------------- tests

  @Test
  void guidePretrainLineStartsFromThePartsTrainsAndItsCheckpointReloads() throws Exception {
    ExampleDataset.write(tmp.resolve("example"), ExampleDataset.Options.DEFAULTS);
    TinyParts.Written parts = TinyParts.writeAll(tmp);
    Path llm = parts.llm();
    Path vit = parts.vit();
    Path ae = parts.ae();
    Path run = tmp.resolve("run");
    JobConfig job = TinyParts.load(TinyParts.flags(tmp, llm, vit, ae, run));
    Path qwenFile = llm.resolve("model.safetensors");
    Path siglipFile = vit.resolve("model.safetensors");

    try (TrainJob.Model built = TrainJob.buildModel(job)) {
      BagelConfig cfg = built.bagelConfig();
      int fileRows = TinyParts.FILE_ROWS;
      assertEquals(fileRows + 4, built.tokenizer().vocabSize()); // the four specials added at 368..371
      assertEquals(fileRows + 4, cfg.llm().vocabSize());
      assertEquals(64, cfg.maxLatentSize());
      assertEquals(2, cfg.vit().numHiddenLayers());
      assertEquals(TinyParts.TINY_AE, cfg.vae());

      // LLM: every Qwen2 tensor as in the file, the gen branch a copy of it (copy_init_moe)
      String[][] undGen = {
          {"layers.0.self_attn.q_proj.weight", "layers.0.self_attn.q_proj_moe_gen.weight"},
          {"layers.1.self_attn.k_proj.bias", "layers.1.self_attn.k_proj_moe_gen.bias"},
          {"layers.1.mlp.down_proj.weight", "layers.1.mlp_moe_gen.down_proj.weight"},
          {"layers.0.input_layernorm.weight", "layers.0.input_layernorm_moe_gen.weight"},
          {"norm.weight", "norm_moe_gen.weight"}};
      for (String[] pair : undGen) {
        float[] want = TinyParts.file(qwenFile, "model." + pair[0]);
        assertArrayEquals(want, model(built, LM + pair[0]), pair[0]);
        assertArrayEquals(want, model(built, LM + pair[1]), pair[1]);
      }
      // QK-norm is BAGEL's own: ones, as HF initialises a weight the checkpoint lacks
      float[] qNorm = model(built, LM + "layers.0.self_attn.q_norm.weight");
      for (float v : qNorm) {
        assertEquals(1f, v);
      }
      // the token tables: the file's rows, then the 4 added rows at the mean of the file's rows
      float[] fileEmbed = TinyParts.file(qwenFile, "model.embed_tokens.weight");
      float[] embed = model(built, LM + "embed_tokens.weight");
      assertEquals((fileRows + 4) * HIDDEN, embed.length);
      for (int i = 0; i < fileRows * HIDDEN; i++) {
        assertEquals(fileEmbed[i], embed[i]);
      }
      for (int c = 0; c < HIDDEN; c++) {
        double mean = 0;
        for (int r = 0; r < fileRows; r++) {
          mean += fileEmbed[r * HIDDEN + c];
        }
        mean /= fileRows;
        for (int r = fileRows; r < fileRows + 4; r++) {
          assertEquals(mean, embed[r * HIDDEN + c], 1e-5, "added row " + r + " col " + c);
        }
      }
      // untied lm_head (the reference's default) filled from the tied checkpoint's embedding
      assertArrayEquals(embed, model(built, "language_model.lm_head.weight"));

      // ViT: the kept layers as in the file, the conv patch embedding as the linear over (row, col, channel)
      assertArrayEquals(TinyParts.file(siglipFile, "vision_model.encoder.layers.1.mlp.fc2.weight"),
          model(built, "vit_model.vision_model.encoder.layers.1.mlp.fc2.weight"));
      assertFalse(built.store().contains("vit_model.vision_model.encoder.layers.2.mlp.fc2.weight"));
      float[] conv = TinyParts.file(siglipFile, "vision_model.embeddings.patch_embedding.weight"); // (H, C, 14, 14)
      float[] linear = model(built, "vit_model.vision_model.embeddings.patch_embedding.weight"); // (H, 14*14*C)
      for (int[] o : new int[][] {{0, 0, 0, 0}, {5, 2, 3, 7}, {31, 1, 13, 0}}) { // out, channel, row, col
        int out = o[0];
        int ch = o[1];
        int r = o[2];
        int c = o[3];
        assertEquals(conv[((out * 3 + ch) * 14 + r) * 14 + c], linear[out * 588 + (r * 14 + c) * 3 + ch]);
      }
      // VAE: the file's
      assertArrayEquals(TinyParts.file(ae, "encoder.conv_in.weight"), vae(built, "encoder.conv_in.weight"));
      assertArrayEquals(TinyParts.file(ae, "decoder.conv_out.bias"), vae(built, "decoder.conv_out.bias"));
    }

    TrainResult result = TrainJob.run(job);
    assertEquals(2, result.steps().size());
    for (StepResult s : result.steps()) {
      assertTrue(Double.isFinite(s.ce()) && Double.isFinite(s.mse()), s.toString());
      assertTrue(s.ce() > 0 && s.mse() > 0, s.toString());
    }
    Path ckpt = result.lastCheckpoint();
    assertNotNull(ckpt);
    for (String f : List.of("config.json", "llm_config.json", "vit_config.json", "tokenizer.json", "ae.safetensors")) {
      assertTrue(Files.isRegularFile(ckpt.resolve(f)), f + " in " + ckpt);
    }
    float[] trainedQ = TinyParts.file(ckpt.resolve("model.safetensors"), LM + "layers.0.self_attn.q_proj.weight");
    assertFalse(java.util.Arrays.equals(trainedQ, TinyParts.file(qwenFile, "model.layers.0.self_attn.q_proj.weight")));

    // the pretraining line again with --auto_resume: the run goes on from its checkpoint (the same grown shapes)
    TrainResult resumed = TrainJob.run(TinyParts.load(TinyParts.flags(tmp, llm, vit, ae, run, "--auto_resume", "True",
        "--total_steps", "3")));
    assertEquals(1, resumed.steps().size());
    assertEquals(2, resumed.steps().get(0).step());
    assertTrue(Double.isFinite(resumed.steps().get(0).ce()));

    // the checkpoint as a released BAGEL folder: --model_path ... --finetune_from_hf True
    JobConfig finetune = TinyParts.load(List.of("--model_path", ckpt.toString(), "--finetune_from_hf", "True",
        "--dataset_config_file", tmp.resolve("example/example.yaml").toString(), "--results_dir",
        tmp.resolve("ft").toString(), "--checkpoint_dir", tmp.resolve("ft/checkpoints").toString(),
        "--max_latent_size", "64", "--vit_max_num_patch_per_side", "16"));
    try (TrainJob.Model again = TrainJob.buildModel(finetune)) {
      assertEquals(372, again.bagelConfig().llm().vocabSize());
      assertEquals(2, again.bagelConfig().vit().numHiddenLayers());
      assertArrayEquals(trainedQ, model(again, LM + "layers.0.self_attn.q_proj.weight"));
      String norm = "vit_model.vision_model.post_layernorm.weight";
      assertArrayEquals(TinyParts.file(ckpt.resolve("model.safetensors"), norm), model(again, norm));
      assertArrayEquals(TinyParts.file(ae, "encoder.conv_in.weight"), vae(again, "encoder.conv_in.weight"));
    }
    // and as chat / generate read it: the checkpoint folder alone
    try (InferenceModel chat = InferenceModel.load(ckpt, null, null, true)) {
      assertEquals(372, chat.config().llm().vocabSize());
      assertEquals(372, chat.tokenizer().vocabSize());
    }
  }

  @Test
  void theModelFolderOfCheckpointsIsNoUserSetting() {
    JobConfig job = TinyParts.load(List.of("--llm_path", "/m/qwen"));
    JobConfig withFolder = new JobConfig(job.model(), job.data(), new TrainingSection(job.training().optimizer(),
        job.training().schedule(), job.training().ema(),
        job.training().checkpoint().withModelFiles(Path.of("/r/model")), job.training().loop()), job.output(),
        job.runtime(), job.parallel(), job.launch(), job.dashboard());
    String yaml = JobConfigLoader.toYaml(withFolder);
    assertFalse(yaml.contains("model_files") || yaml.contains("modelFiles") || yaml.contains("/r/model"), yaml);
    ConfigException e = assertThrows(ConfigException.class,
        () -> TinyParts.load(List.of("--llm_path", "/m/qwen", "--training.checkpoint.model_files", "/r/model")));
    assertTrue(e.getMessage().contains("model_files"), e.getMessage());
  }

  @Test
  void withoutVisualUnderstandingNoVitPathIsNeeded() throws Exception {
    Path llm;
    try (NDManager m = NDManager.newBaseManager()) {
      llm = TinyParts.writeQwen2(tmp.resolve("qwen"), m, false);
    }
    Path ae = TinyParts.writeAutoencoder(tmp.resolve("flux"));
    Files.createDirectories(tmp.resolve("example"));
    Files.writeString(tmp.resolve("example/example.yaml"), "{}");
    JobConfig job = TinyParts.load(TinyParts.flags(tmp, llm, tmp.resolve("absent"), ae, tmp.resolve("run"),
        "--visual_und", "False",
        "--copy_init_moe", "False"));
    try (TrainJob.Model built = TrainJob.buildModel(job)) {
      assertTrue(built.store().all().keySet().stream().noneMatch(n -> n.startsWith("vit_model.")));
      assertArrayEquals(TinyParts.file(llm.resolve("model.safetensors"), "model.norm.weight"),
          model(built, LM + "norm.weight"));
      // without copy_init_moe the gen branch keeps its own (seeded) start
      assertFalse(java.util.Arrays.equals(model(built, LM + "layers.0.mlp.up_proj.weight"),
          model(built, LM + "layers.0.mlp_moe_gen.up_proj.weight")));
    }
    // and without visual generation no autoencoder is needed
    JobConfig textOnly = TinyParts.load(TinyParts.flags(tmp, llm, tmp.resolve("absent"), tmp.resolve("absent.st"),
        tmp.resolve("run"), "--visual_und", "False", "--visual_gen", "False"));
    try (TrainJob.Model built = TrainJob.buildModel(textOnly)) {
      assertEquals(null, built.vae());
      assertTrue(built.store().all().keySet().stream().noneMatch(n -> n.startsWith("vit_model.")
          || n.startsWith("vae2llm.")));
      assertArrayEquals(TinyParts.file(llm.resolve("model.safetensors"), "model.norm.weight"),
          model(built, LM + "norm.weight"));
    }
  }

  @Test
  void brokenPartsFailNamingTheFlagFileAndTensor() throws Exception {
    Path llm;
    Path vit;
    Path broken;
    try (NDManager m = NDManager.newBaseManager()) {
      llm = TinyParts.writeQwen2(tmp.resolve("qwen"), m, false);
      vit = TinyParts.writeSiglip(tmp.resolve("siglip"), m);
      broken = TinyParts.writeQwen2(tmp.resolve("qwen-broken"), m, true);
    }
    Path ae = TinyParts.writeAutoencoder(tmp.resolve("flux"));
    Files.createDirectories(tmp.resolve("example"));
    Files.writeString(tmp.resolve("example/example.yaml"), "{}");
    Path run = tmp.resolve("run");

    // a tensor of the wrong shape: the flag, the file and the tensor
    ConfigException shape = assertThrows(ConfigException.class,
        () -> TrainJob.buildModel(TinyParts.load(TinyParts.flags(tmp, broken, vit, ae, run))).close());
    assertTrue(shape.getMessage().contains("model.llm_path: " + broken)
        && shape.getMessage().contains("layers.1.mlp.down_proj.weight")
        && shape.getMessage().contains("[32, 65]"), shape.getMessage());

    // no tokenizer.json
    Path noTokenizer = Files.createDirectories(tmp.resolve("qwen-notokenizer"));
    for (String f : List.of("config.json", "model.safetensors")) {
      Files.copy(llm.resolve(f), noTokenizer.resolve(f));
    }
    ConfigException tokenizer = assertThrows(ConfigException.class,
        () -> TrainJob.buildModel(TinyParts.load(TinyParts.flags(tmp, noTokenizer, vit, ae, run))).close());
    assertTrue(tokenizer.getMessage().contains("model.llm_path: " + noTokenizer.resolve("tokenizer.json")),
        tokenizer.getMessage());

    // no config.json
    Path noConfig = Files.createDirectories(tmp.resolve("qwen-noconfig"));
    Files.copy(llm.resolve("model.safetensors"), noConfig.resolve("model.safetensors"));
    ConfigException config = assertThrows(ConfigException.class,
        () -> TrainJob.buildModel(TinyParts.load(TinyParts.flags(tmp, noConfig, vit, ae, run))).close());
    assertTrue(config.getMessage().contains("model.llm_path: " + noConfig.resolve("config.json")),
        config.getMessage());

    // no weights in the ViT folder
    Path noWeights = Files.createDirectories(tmp.resolve("siglip-noweights"));
    Files.copy(vit.resolve("config.json"), noWeights.resolve("config.json"));
    ConfigException weights = assertThrows(ConfigException.class,
        () -> TrainJob.buildModel(TinyParts.load(TinyParts.flags(tmp, llm, noWeights, ae, run))).close());
    assertTrue(weights.getMessage().contains("model.vit_path: " + noWeights)
        && weights.getMessage().contains("no weights"), weights.getMessage());

    // a ViT file missing a tensor the kept tower needs
    Path partial = Files.createDirectories(tmp.resolve("siglip-partial"));
    Files.copy(vit.resolve("config.json"), partial.resolve("config.json"));
    try (SafetensorsReader r = SafetensorsReader.open(vit.resolve("model.safetensors"));
        NDManager m = NDManager.newBaseManager()) {
      SafetensorsWriter w = new SafetensorsWriter();
      for (Map.Entry<String, TensorSource> e : r.tensors().entrySet()) {
        if (!e.getKey().equals("vision_model.encoder.layers.1.layer_norm2.bias")) {
          w.add(e.getKey(), e.getValue().load(m), Dtype.F32);
        }
      }
      w.write(partial.resolve("model.safetensors"));
    }
    ConfigException missing = assertThrows(ConfigException.class,
        () -> TrainJob.buildModel(TinyParts.load(TinyParts.flags(tmp, llm, partial, ae, run))).close());
    assertTrue(missing.getMessage().contains("model.vit_path: " + partial)
        && missing.getMessage().contains("layers.1.layer_norm2.bias"), missing.getMessage());

    // no autoencoder file
    ConfigException vae = assertThrows(ConfigException.class,
        () -> TrainJob.buildModel(TinyParts.load(TinyParts.flags(tmp, llm, vit, tmp.resolve("flux/none.safetensors"),
            run))).close());
    assertTrue(vae.getMessage().contains("model.vae_path: " + tmp.resolve("flux/none.safetensors")),
        vae.getMessage());
  }
}
