package ai.bakery.runtime.train;

import static org.junit.jupiter.api.Assertions.assertNotNull;

import ai.bakery.data.text.TextTokenizer;
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
import ai.bakery.model.vae.FluxAutoencoder;
import ai.bakery.model.vit.SiglipVisionModel;
import ai.bakery.runtime.config.JobConfig;
import ai.bakery.runtime.config.JobConfigLoader;
import ai.djl.engine.Engine;
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

/**
 * Tiny pretrained parts written as their sources ship them, for the tests of a job from separate parts: a HF
 * Qwen2 folder (config.json, bf16 model.safetensors without lm_head as Qwen2.5-0.5B, a tokenizer.json lacking
 * BAGEL's four special tokens), a HF SigLIP folder (conv patch embedding, one layer more than BAGEL keeps, a
 * pooling head) and an autoencoder (ae.safetensors of the tiny preset's architecture with the vae_config.json
 * {@code bakery train vae} writes beside it).
 */
public final class TinyParts {
  public static final int HIDDEN = 32;
  public static final int INTER = 64;
  public static final int LAYERS = 2;
  private static final int KV = 16; // 2 KV heads of head dim 8
  /** The tiny tokenizer's vocabulary without its specials: the rows of the Qwen2 file's token tables. */
  public static final int FILE_ROWS = 368;

  private TinyParts() {}

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

  private static NDArray small(NDManager m, long... shape) {
    return m.randomNormal(0, 0.1f, new Shape(shape), DataType.FLOAT32);
  }

  public static Path writeQwen2(Path dir, NDManager m, boolean brokenShape) throws Exception {
    Files.createDirectories(dir);
    Engine.getInstance().setRandomSeed(brokenShape ? 1 : 2); // the same files on every run
    int vocab = writeTokenizerWithoutSpecials(dir);
    Files.writeString(dir.resolve("config.json"), "{\"architectures\": [\"Qwen2ForCausalLM\"],"
        + " \"model_type\": \"qwen2\", \"hidden_size\": " + HIDDEN + ", \"intermediate_size\": " + INTER
        + ", \"num_hidden_layers\": " + LAYERS + ", \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
        + " \"vocab_size\": " + vocab + ","
        + " \"rms_norm_eps\": 1e-06, \"rope_theta\": 1000000.0, \"max_position_embeddings\": 4096,"
        + " \"tie_word_embeddings\": true, \"hidden_act\": \"silu\", \"torch_dtype\": \"bfloat16\","
        + " \"use_sliding_window\": false, \"bos_token_id\": 1, \"eos_token_id\": 2}");
    SafetensorsWriter w = new SafetensorsWriter();
    w.add("model.embed_tokens.weight", m.randomNormal(new Shape(vocab, HIDDEN)), Dtype.BF16);
    for (int i = 0; i < LAYERS; i++) {
      String p = "model.layers." + i + ".";
      w.add(p + "self_attn.q_proj.weight", small(m, HIDDEN, HIDDEN), Dtype.BF16);
      w.add(p + "self_attn.q_proj.bias", m.randomNormal(new Shape(HIDDEN)), Dtype.BF16);
      w.add(p + "self_attn.k_proj.weight", small(m, KV, HIDDEN), Dtype.BF16);
      w.add(p + "self_attn.k_proj.bias", m.randomNormal(new Shape(KV)), Dtype.BF16);
      w.add(p + "self_attn.v_proj.weight", small(m, KV, HIDDEN), Dtype.BF16);
      w.add(p + "self_attn.v_proj.bias", m.randomNormal(new Shape(KV)), Dtype.BF16);
      w.add(p + "self_attn.o_proj.weight", small(m, HIDDEN, HIDDEN), Dtype.BF16);
      w.add(p + "mlp.gate_proj.weight", small(m, INTER, HIDDEN), Dtype.BF16);
      w.add(p + "mlp.up_proj.weight", small(m, INTER, HIDDEN), Dtype.BF16);
      long downIn = brokenShape && i == 1 ? INTER + 1 : INTER;
      w.add(p + "mlp.down_proj.weight", small(m, HIDDEN, downIn), Dtype.BF16);
      w.add(p + "input_layernorm.weight", m.randomUniform(0.5f, 1.5f, new Shape(HIDDEN)), Dtype.BF16);
      w.add(p + "post_attention_layernorm.weight", m.randomUniform(0.5f, 1.5f, new Shape(HIDDEN)), Dtype.BF16);
    }
    w.add("model.norm.weight", m.randomUniform(0.5f, 1.5f, new Shape(HIDDEN)), Dtype.BF16);
    w.write(dir.resolve("model.safetensors")); // tied, as Qwen2.5-0.5B: no lm_head.weight
    return dir;
  }

  /** SigLIP of 3 layers (BAGEL keeps 2 at vit_select_layer -2), image 224 / patch 14: 16 patches a side. */
  public static final VitConfig SIGLIP = new VitConfig(HIDDEN, INTER, 3, 2, 3, 224, 14, "gelu_pytorch_tanh", 1e-6,
      0.0, false);

  public static Path writeSiglip(Path dir, NDManager m) throws Exception {
    Files.createDirectories(dir);
    Engine.getInstance().setRandomSeed(3);
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

  public static final VaeConfig TINY_AE = new VaeConfig(64, 3, 32, 3, List.of(1, 2), 1, 4, 0.3611, 0.1159);

  public static Path writeAutoencoder(Path dir) throws Exception {
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

  /** The three parts of a pre-training job, written under one folder. */
  public record Written(Path llm, Path vit, Path ae) {}

  /** A Qwen2 ({@code qwen/}), a SigLIP ({@code siglip/}) and an autoencoder ({@code flux/}) under {@code tmp}. */
  public static Written writeAll(Path tmp) throws Exception {
    try (NDManager m = NDManager.newBaseManager()) {
      return new Written(writeQwen2(tmp.resolve("qwen"), m, false), writeSiglip(tmp.resolve("siglip"), m),
          writeAutoencoder(tmp.resolve("flux")));
    }
  }

  /** The guide's pretraining line with the tiny parts, test-sized packs and steps; data under tmp/example. */
  public static List<String> flags(Path tmp, Path llm, Path vit, Path ae, Path run, String... more) {
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

  public static JobConfig load(List<String> flags) {
    return JobConfigLoader.fromReferenceFlags(flags).config();
  }

  public static float[] file(Path safetensors, String name) {
    try (SafetensorsReader r = SafetensorsReader.open(safetensors); NDManager m = NDManager.newBaseManager()) {
      TensorSource t = r.tensors().get(name);
      assertNotNull(t, name + " in " + safetensors);
      return t.load(m).toFloatArray();
    }
  }

}
