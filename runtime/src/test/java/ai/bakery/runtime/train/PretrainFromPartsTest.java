package ai.bakery.runtime.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.example.ExampleDataset;
import ai.bakery.data.text.TextTokenizer;
import ai.bakery.model.config.BagelConfig;
import ai.bakery.model.config.ConfigException;
import ai.bakery.model.config.VaeConfig;
import ai.bakery.model.config.VitConfig;
import ai.bakery.model.io.Dtype;
import ai.bakery.model.io.SafetensorsReader;
import ai.bakery.model.io.SafetensorsWriter;
import ai.bakery.model.io.TensorSource;
import ai.bakery.model.nn.Init;
import ai.bakery.model.tensor.Parameter;
import ai.bakery.model.tensor.ParameterStore;
import ai.bakery.model.tensor.Precision;
import ai.bakery.model.tensor.Torch;
import ai.bakery.model.vae.FluxAutoencoder;
import ai.bakery.model.vit.SiglipVisionModel;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import ai.bakery.runtime.infer.InferenceModel;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reference guide's pretraining command ({@code --llm_path --vit_path --vae_path}, no finetune_from_hf) on
 * tiny parts written as their sources ship them: a HF Qwen2 folder (config.json, bf16 model.safetensors without
 * lm_head as Qwen2.5-0.5B, a tokenizer.json lacking BAGEL's four special tokens), a HF SigLIP folder (conv patch
 * embedding, one layer more than BAGEL keeps, a pooling head) and an autoencoder (ae.safetensors of the tiny
 * preset's architecture with the vae_config.json {@code bakery train vae} writes beside it).
 */
class PretrainFromPartsTest {
  private static final int HIDDEN = 32;
  private static final int INTER = 64;
  private static final int LAYERS = 2;
  private static final int KV = 16; // 2 KV heads of head dim 8
  private static final String LM = "language_model.model.";

  @TempDir
  Path tmp;

  @BeforeAll
  static void start() {
    Torch.init();
  }

  // --------------------------------------------------------------------------------------------- the parts

  /** The tiny tokenizer without its added specials; returns its vocabulary size (rows of the LLM's tables). */
  private static int writeTokenizerWithoutSpecials(Path dir) throws Exception {
    ObjectMapper json = new ObjectMapper();
    ObjectNode root;
    try (InputStream in = TextTokenizer.class.getResourceAsStream(TextTokenizer.TINY_RESOURCE)) {
      root = (ObjectNode) json.readTree(in.readAllBytes());
    }
    root.putArray("added_tokens");
    Files.write(dir.resolve("tokenizer.json"), json.writeValueAsBytes(root));
    return root.path("model").path("vocab").size();
  }

  private static Path writeQwen2(Path dir, NDManager m, boolean brokenShape) throws Exception {
    Files.createDirectories(dir);
    int vocab = writeTokenizerWithoutSpecials(dir);
    Files.writeString(dir.resolve("config.json"), "{\"architectures\": [\"Qwen2ForCausalLM\"], \"model_type\": \"qwen2\","
        + " \"hidden_size\": " + HIDDEN + ", \"intermediate_size\": " + INTER + ", \"num_hidden_layers\": " + LAYERS
        + ", \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"vocab_size\": " + vocab + ","
        + " \"rms_norm_eps\": 1e-06, \"rope_theta\": 1000000.0, \"max_position_embeddings\": 4096,"
        + " \"tie_word_embeddings\": true, \"hidden_act\": \"silu\", \"torch_dtype\": \"bfloat16\","
        + " \"use_sliding_window\": false, \"bos_token_id\": 1, \"eos_token_id\": 2}");
    SafetensorsWriter w = new SafetensorsWriter();
    w.add("model.embed_tokens.weight", m.randomNormal(new Shape(vocab, HIDDEN)), Dtype.BF16);
    for (int i = 0; i < LAYERS; i++) {
      String p = "model.layers." + i + ".";
      w.add(p + "self_attn.q_proj.weight", m.randomNormal(0, 0.1f, new Shape(HIDDEN, HIDDEN), DataType.FLOAT32), Dtype.BF16);
      w.add(p + "self_attn.q_proj.bias", m.randomNormal(new Shape(HIDDEN)), Dtype.BF16);
      w.add(p + "self_attn.k_proj.weight", m.randomNormal(0, 0.1f, new Shape(KV, HIDDEN), DataType.FLOAT32), Dtype.BF16);
      w.add(p + "self_attn.k_proj.bias", m.randomNormal(new Shape(KV)), Dtype.BF16);
      w.add(p + "self_attn.v_proj.weight", m.randomNormal(0, 0.1f, new Shape(KV, HIDDEN), DataType.FLOAT32), Dtype.BF16);
      w.add(p + "self_attn.v_proj.bias", m.randomNormal(new Shape(KV)), Dtype.BF16);
      w.add(p + "self_attn.o_proj.weight", m.randomNormal(0, 0.1f, new Shape(HIDDEN, HIDDEN), DataType.FLOAT32), Dtype.BF16);
      w.add(p + "mlp.gate_proj.weight", m.randomNormal(0, 0.1f, new Shape(INTER, HIDDEN), DataType.FLOAT32), Dtype.BF16);
      w.add(p + "mlp.up_proj.weight", m.randomNormal(0, 0.1f, new Shape(INTER, HIDDEN), DataType.FLOAT32), Dtype.BF16);
      long downIn = brokenShape && i == 1 ? INTER + 1 : INTER;
      w.add(p + "mlp.down_proj.weight", m.randomNormal(0, 0.1f, new Shape(HIDDEN, downIn), DataType.FLOAT32), Dtype.BF16);
      w.add(p + "input_layernorm.weight", m.randomUniform(0.5f, 1.5f, new Shape(HIDDEN)), Dtype.BF16);
      w.add(p + "post_attention_layernorm.weight", m.randomUniform(0.5f, 1.5f, new Shape(HIDDEN)), Dtype.BF16);
    }
    w.add("model.norm.weight", m.randomUniform(0.5f, 1.5f, new Shape(HIDDEN)), Dtype.BF16);
    w.write(dir.resolve("model.safetensors")); // tied, as Qwen2.5-0.5B: no lm_head.weight
    return dir;
  }

  /** SigLIP of 3 layers (BAGEL keeps 2 at vit_select_layer -2), image 224 / patch 14: 16 patches a side. */
  private static final VitConfig SIGLIP = new VitConfig(HIDDEN, INTER, 3, 2, 3, 224, 14, "gelu_pytorch_tanh", 1e-6,
      0.0, false);

  private static Path writeSiglip(Path dir, NDManager m) throws Exception {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"siglip_vision_model\", \"hidden_size\": "
        + HIDDEN + ", \"intermediate_size\": " + INTER + ", \"num_hidden_layers\": 3, \"num_attention_heads\": 2,"
        + " \"num_channels\": 3, \"image_size\": 224, \"patch_size\": 14, \"hidden_act\": \"gelu_pytorch_tanh\","
        + " \"layer_norm_eps\": 1e-06, \"attention_dropout\": 0.0}");
    SafetensorsWriter w = new SafetensorsWriter();
    try (NDManager scratch = m.newSubManager(); ParameterStore names = new ParameterStore(scratch)) {
      new SiglipVisionModel(SIGLIP, names, "vit_model");
      for (Parameter p : names.all().values()) {
        String hf = p.name().substring("vit_model.".length());
        if (hf.equals("vision_model.embeddings.patch_embedding.weight")) {
          w.add(hf, m.randomNormal(0, 0.05f, new Shape(HIDDEN, 3, 14, 14), DataType.FLOAT32),
              Dtype.F32); // HF's conv layout
        } else {
          w.add(hf, m.randomNormal(0, 0.05f, p.value().getShape(), DataType.FLOAT32), Dtype.F32);
        }
      }
    }
    w.add("vision_model.head.probe", m.randomNormal(new Shape(1, 1, HIDDEN)), Dtype.F32);
    w.write(dir.resolve("model.safetensors"));
    return dir;
  }

  private static final VaeConfig TINY_AE = new VaeConfig(64, 3, 32, 3, List.of(1, 2), 1, 4, 0.3611, 0.1159);

  private static Path writeAutoencoder(Path dir) throws Exception {
    Files.createDirectories(dir);
    try (NDManager m = NDManager.newBaseManager(); ParameterStore s = new ParameterStore(m)) {
      new FluxAutoencoder(TINY_AE, s, "", Init.seeded(77), Precision.FP32);
      SafetensorsWriter w = new SafetensorsWriter();
      for (Parameter p : s.all().values()) {
        w.add(p.name(), p.value(), Dtype.F32);
      }
      w.write(dir.resolve("ae.safetensors"));
    }
    new ObjectMapper().writeValue(dir.resolve(PretrainParts.VAE_CONFIG).toFile(), TINY_AE);
    return dir.resolve("ae.safetensors");
  }

  /** The guide's pretraining line with the tiny parts and test-sized packs and steps. */
  private List<String> flags(Path llm, Path vit, Path ae, Path run, String... more) {
    List<String> f = new ArrayList<>(List.of("train/pretrain_unified_navit.py",
        "--dataset_config_file", tmp.resolve("example/example.yaml").toString(),
        "--llm_path", llm.toString(), "--vae_path", ae.toString(), "--vit_path", vit.toString(),
        "--layer_module", "Qwen2MoTDecoderLayer", "--use_flex", "True", "--resume_from", "",
        "--results_dir", run.toString(), "--checkpoint_dir", run.resolve("checkpoints").toString(),
        "--max_latent_size", "64",
        "--vit_max_num_patch_per_side", "16", "--total_steps", "2", "--save_every", "2", "--warmup_steps", "0",
        "--lr", "1e-3", "--expected_num_tokens", "256", "--max_num_tokens", "768", "--max_num_tokens_per_sample",
        "512", "--prefer_buffer_before", "128", "--max_buffer_size", "4", "--num_workers", "1",
        "--global_seed", "11"));
    f.addAll(List.of(more));
    return f;
  }

  private static JobConfig load(List<String> flags) {
    return JobConfigLoader.fromReferenceFlags(flags).config();
  }

  private static float[] file(Path safetensors, String name) {
    try (SafetensorsReader r = SafetensorsReader.open(safetensors); NDManager m = NDManager.newBaseManager()) {
      TensorSource t = r.tensors().get(name);
      assertNotNull(t, name + " in " + safetensors);
      return t.load(m).toFloatArray();
    }
  }

  private static float[] model(TrainJob.Model built, String name) {
    assertTrue(built.store().contains(name), name);
    return built.store().get(name).value().toFloatArray();
  }

  // --------------------------------------------------------------------------------------------- tests

  @Test
  void guidePretrainLineStartsFromThePartsTrainsAndItsCheckpointReloads() throws Exception {
    ExampleDataset.write(tmp.resolve("example"), ExampleDataset.Options.DEFAULTS);
    Path llm;
    Path vit;
    try (NDManager m = NDManager.newBaseManager()) {
      llm = writeQwen2(tmp.resolve("qwen"), m, false);
      vit = writeSiglip(tmp.resolve("siglip"), m);
    }
    Path ae = writeAutoencoder(tmp.resolve("flux"));
    Path run = tmp.resolve("run");
    JobConfig job = load(flags(llm, vit, ae, run));
    Path qwenFile = llm.resolve("model.safetensors");
    Path siglipFile = vit.resolve("model.safetensors");

    try (TrainJob.Model built = TrainJob.buildModel(job)) {
      BagelConfig cfg = built.bagelConfig();
      int fileRows = 368;
      assertEquals(fileRows + 4, built.tokenizer().vocabSize()); // the four specials added at 368..371
      assertEquals(fileRows + 4, cfg.llm().vocabSize());
      assertEquals(64, cfg.maxLatentSize());
      assertEquals(2, cfg.vit().numHiddenLayers());
      assertEquals(TINY_AE, cfg.vae());

      // LLM: every Qwen2 tensor as in the file, the gen branch a copy of it (copy_init_moe)
      String[][] undGen = {
          {"layers.0.self_attn.q_proj.weight", "layers.0.self_attn.q_proj_moe_gen.weight"},
          {"layers.1.self_attn.k_proj.bias", "layers.1.self_attn.k_proj_moe_gen.bias"},
          {"layers.1.mlp.down_proj.weight", "layers.1.mlp_moe_gen.down_proj.weight"},
          {"layers.0.input_layernorm.weight", "layers.0.input_layernorm_moe_gen.weight"},
          {"norm.weight", "norm_moe_gen.weight"}};
      for (String[] pair : undGen) {
        float[] want = file(qwenFile, "model." + pair[0]);
        assertArrayEquals(want, model(built, LM + pair[0]), pair[0]);
        assertArrayEquals(want, model(built, LM + pair[1]), pair[1]);
      }
      // QK-norm is BAGEL's own: ones, as HF initialises a weight the checkpoint lacks
      float[] qNorm = model(built, LM + "layers.0.self_attn.q_norm.weight");
      for (float v : qNorm) {
        assertEquals(1f, v);
      }
      // the token tables: the file's rows, then the 4 added rows at the mean of the file's rows
      float[] fileEmbed = file(qwenFile, "model.embed_tokens.weight");
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
      assertArrayEquals(file(siglipFile, "vision_model.encoder.layers.1.mlp.fc2.weight"),
          model(built, "vit_model.vision_model.encoder.layers.1.mlp.fc2.weight"));
      assertFalse(built.store().contains("vit_model.vision_model.encoder.layers.2.mlp.fc2.weight"));
      float[] conv = file(siglipFile, "vision_model.embeddings.patch_embedding.weight"); // (H, C, 14, 14)
      float[] linear = model(built, "vit_model.vision_model.embeddings.patch_embedding.weight"); // (H, 14*14*C)
      for (int[] o : new int[][] {{0, 0, 0, 0}, {5, 2, 3, 7}, {31, 1, 13, 0}}) { // out, channel, row, col
        int out = o[0];
        int ch = o[1];
        int r = o[2];
        int c = o[3];
        assertEquals(conv[((out * 3 + ch) * 14 + r) * 14 + c], linear[out * 588 + (r * 14 + c) * 3 + ch]);
      }
      // VAE: the file's
      assertArrayEquals(file(ae, "encoder.conv_in.weight"), built.vaeStore().get("encoder.conv_in.weight").value()
          .toFloatArray());
      assertArrayEquals(file(ae, "decoder.conv_out.bias"), built.vaeStore().get("decoder.conv_out.bias").value()
          .toFloatArray());
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
    float[] trainedQ = file(ckpt.resolve("model.safetensors"), LM + "layers.0.self_attn.q_proj.weight");
    assertFalse(java.util.Arrays.equals(trainedQ, file(qwenFile, "model.layers.0.self_attn.q_proj.weight")));

    // the checkpoint as a released BAGEL folder: --model_path ... --finetune_from_hf True
    JobConfig finetune = load(List.of("--model_path", ckpt.toString(), "--finetune_from_hf", "True",
        "--dataset_config_file", tmp.resolve("example/example.yaml").toString(), "--results_dir",
        tmp.resolve("ft").toString(), "--checkpoint_dir", tmp.resolve("ft/checkpoints").toString(),
        "--max_latent_size", "64", "--vit_max_num_patch_per_side", "16"));
    try (TrainJob.Model again = TrainJob.buildModel(finetune)) {
      assertEquals(372, again.bagelConfig().llm().vocabSize());
      assertEquals(2, again.bagelConfig().vit().numHiddenLayers());
      assertArrayEquals(trainedQ, model(again, LM + "layers.0.self_attn.q_proj.weight"));
      assertArrayEquals(file(ckpt.resolve("model.safetensors"), "vit_model.vision_model.post_layernorm.weight"),
          model(again, "vit_model.vision_model.post_layernorm.weight"));
      assertArrayEquals(file(ae, "encoder.conv_in.weight"), again.vaeStore().get("encoder.conv_in.weight").value()
          .toFloatArray());
    }
    // and as chat / generate read it: the checkpoint folder alone
    try (InferenceModel chat = InferenceModel.load(ckpt, null, null, true)) {
      assertEquals(372, chat.config().llm().vocabSize());
      assertEquals(372, chat.tokenizer().vocabSize());
    }
  }

  @Test
  void withoutVisualUnderstandingNoVitPathIsNeeded() throws Exception {
    Path llm;
    try (NDManager m = NDManager.newBaseManager()) {
      llm = writeQwen2(tmp.resolve("qwen"), m, false);
    }
    Path ae = writeAutoencoder(tmp.resolve("flux"));
    Files.createDirectories(tmp.resolve("example"));
    Files.writeString(tmp.resolve("example/example.yaml"), "{}");
    JobConfig job = load(flags(llm, tmp.resolve("absent"), ae, tmp.resolve("run"), "--visual_und", "False",
        "--copy_init_moe", "False"));
    try (TrainJob.Model built = TrainJob.buildModel(job)) {
      assertTrue(built.store().all().keySet().stream().noneMatch(n -> n.startsWith("vit_model.")));
      assertArrayEquals(file(llm.resolve("model.safetensors"), "model.norm.weight"), model(built, LM + "norm.weight"));
      // without copy_init_moe the gen branch keeps its own (seeded) start
      assertFalse(java.util.Arrays.equals(model(built, LM + "layers.0.mlp.up_proj.weight"),
          model(built, LM + "layers.0.mlp_moe_gen.up_proj.weight")));
    }
  }

  @Test
  void brokenPartsFailNamingTheFlagFileAndTensor() throws Exception {
    Path llm;
    Path vit;
    Path broken;
    try (NDManager m = NDManager.newBaseManager()) {
      llm = writeQwen2(tmp.resolve("qwen"), m, false);
      vit = writeSiglip(tmp.resolve("siglip"), m);
      broken = writeQwen2(tmp.resolve("qwen-broken"), m, true);
    }
    Path ae = writeAutoencoder(tmp.resolve("flux"));
    Files.createDirectories(tmp.resolve("example"));
    Files.writeString(tmp.resolve("example/example.yaml"), "{}");
    Path run = tmp.resolve("run");

    // a tensor of the wrong shape: the flag, the file and the tensor
    ConfigException shape = assertThrows(ConfigException.class,
        () -> TrainJob.buildModel(load(flags(broken, vit, ae, run))).close());
    assertTrue(shape.getMessage().contains("model.llm_path: " + broken)
        && shape.getMessage().contains("layers.1.mlp.down_proj.weight")
        && shape.getMessage().contains("[32, 65]"), shape.getMessage());

    // no config.json
    Path noConfig = Files.createDirectories(tmp.resolve("qwen-noconfig"));
    Files.copy(llm.resolve("model.safetensors"), noConfig.resolve("model.safetensors"));
    ConfigException config = assertThrows(ConfigException.class,
        () -> TrainJob.buildModel(load(flags(noConfig, vit, ae, run))).close());
    assertTrue(config.getMessage().contains("model.llm_path: " + noConfig.resolve("config.json")),
        config.getMessage());

    // no weights in the ViT folder
    Path noWeights = Files.createDirectories(tmp.resolve("siglip-noweights"));
    Files.copy(vit.resolve("config.json"), noWeights.resolve("config.json"));
    ConfigException weights = assertThrows(ConfigException.class,
        () -> TrainJob.buildModel(load(flags(llm, noWeights, ae, run))).close());
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
        () -> TrainJob.buildModel(load(flags(llm, partial, ae, run))).close());
    assertTrue(missing.getMessage().contains("model.vit_path: " + partial)
        && missing.getMessage().contains("layers.1.layer_norm2.bias"), missing.getMessage());

    // no autoencoder file
    ConfigException vae = assertThrows(ConfigException.class,
        () -> TrainJob.buildModel(load(flags(llm, vit, tmp.resolve("flux/none.safetensors"), run))).close());
    assertTrue(vae.getMessage().contains("model.vae_path: " + tmp.resolve("flux/none.safetensors")),
        vae.getMessage());
  }
}
