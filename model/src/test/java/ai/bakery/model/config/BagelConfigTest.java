package ai.bakery.model.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BagelConfigTest {
  static final Path PRESETS = Path.of("..", "configs", "model");

  static final String LLM = """
      {"model_type": "qwen2", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
       "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 512, "bos_token_id": 1,
       "torch_dtype": "bfloat16", "rope_scaling": null, "use_sliding_window": false}""";
  static final String VIT = """
      {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3, "num_attention_heads": 2,
       "image_size": 980, "patch_size": 14}""";

  @Test
  void readsTheSevenBillionPresetWithReferenceSizes() {
    BagelConfig c = BagelConfig.readModelDir(PRESETS.resolve("bagel-7b-mot"));
    LlmConfig llm = c.llm();
    assertEquals(3584, llm.hiddenSize());
    assertEquals(28, llm.numHiddenLayers());
    assertEquals(4, llm.numKeyValueHeads());
    assertEquals(128, llm.headDim());
    assertEquals(152064, llm.vocabSize());
    assertEquals(1e6, llm.ropeTheta());
    assertEquals(LayerModule.QWEN2_MOT, llm.layerModule());
    assertTrue(llm.qkNorm());
    assertFalse(llm.tieWordEmbeddings());
    // SigLIP so400m keeps 27 + 1 - 2 = 26 layers for vit_select_layer -2
    assertEquals(26, c.vit().numHiddenLayers());
    assertEquals(1152, c.vit().hiddenSize());
    assertEquals(VaeConfig.FLUX, c.vae());
    assertEquals(64, c.patchLatentDim());
    assertEquals(16, c.latentDownsample());
    assertEquals(64, c.maxLatentSize());
  }

  @Test
  void readsEveryPreset() {
    for (String name : new String[] {"tiny", "mid"}) {
      BagelConfig c = BagelConfig.readModelDir(PRESETS.resolve(name));
      assertTrue(c.visualGen() && c.visualUnd(), name);
    }
    BagelConfig tiny = BagelConfig.readModelDir(PRESETS.resolve("tiny"));
    assertEquals(2, tiny.vit().numHiddenLayers());
    assertEquals(2, tiny.vae().downsample());
    assertEquals(16, tiny.patchLatentDim());
  }

  @Test
  void originalFormWithPlaceholderConfigUsesTrainingDefaults(@TempDir Path dir) throws IOException {
    // BAGEL-7B-MoT's own config.json is a name-only placeholder, in early copies with a trailing comma.
    Files.writeString(dir.resolve("config.json"), "{\"name\": [\"BAGEL-7B-MoT\"],}");
    Files.writeString(dir.resolve("llm_config.json"), LLM);
    Files.writeString(dir.resolve("vit_config.json"), VIT);
    BagelConfig c = BagelConfig.readModelDir(dir);
    assertEquals(LayerModule.QWEN2_MOT, c.llm().layerModule());
    assertTrue(c.llm().qkNorm());
    assertEquals(1e-6, c.llm().rmsNormEps());
    assertEquals(32, c.maxLatentSize());
    assertEquals(-2, c.vitSelectLayer());
    assertEquals(2, c.vit().numHiddenLayers());
    assertEquals(VaeConfig.FLUX, c.vae());
    assertTrue(c.copyInitMoe());
  }

  @Test
  void hfFormNestsSubConfigsAndIgnoresPretrainedConfigExtras(@TempDir Path dir) throws IOException {
    String llm = LLM.replace("\"vocab_size\": 512", "\"vocab_size\": 512, \"layer_module\": \"Qwen2MoEDecoderLayer\"");
    Files.writeString(dir.resolve("config.json"), """
        {"model_type": "bagel", "architectures": ["Bagel"], "return_dict": true, "id2label": {"0": "a"},
         "visual_gen": true, "visual_und": true, "max_latent_size": 64, "timestep_shift": 3.0,
         "ce_weight": 1.0, "vit_max_num_patch_per_side": 16,
         "llm_config": %s, "vit_config": %s,
         "vae_config": {"downsample": 8, "z_channels": 16, "ch": 128, "ch_mult": [1, 2, 4, 4]}}
        """.formatted(llm, VIT));
    BagelConfig c = BagelConfig.readModelDir(dir);
    assertEquals(LayerModule.QWEN2_MOE, c.llm().layerModule());
    assertEquals(3, c.vit().numHiddenLayers(), "nested vit_config is the tower as built");
    assertEquals(64, c.maxLatentSize());
    assertEquals(3.0, c.timestepShift());
    assertEquals(16, c.vae().zChannels());
  }

  @Test
  void topLevelTrainingArgumentsOverrideTheLlmConfig(@TempDir Path dir) throws IOException {
    Files.writeString(dir.resolve("config.json"), """
        {"visual_und": false, "layer_module": "Qwen2DecoderLayer", "llm_qk_norm": false,
         "tie_word_embeddings": true, "freeze_und": true}""");
    Files.writeString(dir.resolve("llm_config.json"), LLM);
    BagelConfig c = BagelConfig.readModelDir(dir);
    assertEquals(LayerModule.QWEN2, c.llm().layerModule());
    assertFalse(c.llm().qkNorm());
    assertTrue(c.llm().tieWordEmbeddings());
    assertTrue(c.llm().freezeUnd());
    assertNull(c.vit(), "no vit_config.json needed without visual_und");
  }

  @Test
  void errorsNameTheFileAndTheField(@TempDir Path dir) throws IOException {
    Files.writeString(dir.resolve("config.json"), "{\"visual_und\": false}");
    Files.writeString(dir.resolve("llm_config.json"), LLM.replace("\"hidden_size\": 64,", ""));
    ConfigException e = assertThrows(ConfigException.class, () -> BagelConfig.readModelDir(dir));
    assertTrue(e.getMessage().contains("llm_config.json") && e.getMessage().contains("'hidden_size'"), e.getMessage());

    Files.writeString(dir.resolve("llm_config.json"), LLM.replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": \"two\""));
    e = assertThrows(ConfigException.class, () -> BagelConfig.readModelDir(dir));
    assertTrue(e.getMessage().contains("'num_key_value_heads' must be an integer"), e.getMessage());

    Files.writeString(dir.resolve("llm_config.json"), LLM.replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3"));
    e = assertThrows(ConfigException.class, () -> BagelConfig.readModelDir(dir));
    assertTrue(e.getMessage().contains("llm_config.json") && e.getMessage().contains("num_key_value_heads 3"),
        e.getMessage());

    Files.writeString(dir.resolve("llm_config.json"), LLM.replace("\"rope_scaling\": null", "\"rope_scaling\": {\"type\": \"yarn\"}"));
    e = assertThrows(ConfigException.class, () -> BagelConfig.readModelDir(dir));
    assertTrue(e.getMessage().contains("'rope_scaling'"), e.getMessage());

    Files.writeString(dir.resolve("llm_config.json"), LLM);
    Files.writeString(dir.resolve("config.json"), "{\"visual_und\": false, \"visual_gne\": true}");
    e = assertThrows(ConfigException.class, () -> BagelConfig.readModelDir(dir));
    assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("visual_gne"), e.getMessage());

    Files.writeString(dir.resolve("config.json"), "{\"visual_und\": false, \"timestep_shift\": 0}");
    e = assertThrows(ConfigException.class, () -> BagelConfig.readModelDir(dir));
    assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("timestep_shift"), e.getMessage());

    Files.writeString(dir.resolve("config.json"), "{\"layer_module\": \"Qwen3DecoderLayer\"}");
    e = assertThrows(ConfigException.class, () -> BagelConfig.readModelDir(dir));
    assertTrue(e.getMessage().contains("'layer_module'"), e.getMessage());

    Files.writeString(dir.resolve("config.json"), "{\"visual_und\": false");
    e = assertThrows(ConfigException.class, () -> BagelConfig.readModelDir(dir));
    assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
  }

  @Test
  void vitPositionIdsMustFitTheTowersTable(@TempDir Path dir) throws IOException {
    Files.writeString(dir.resolve("config.json"), "{\"vit_max_num_patch_per_side\": 70}");
    Files.writeString(dir.resolve("llm_config.json"), LLM);
    Files.writeString(dir.resolve("vit_config.json"), VIT.replace("980", "224")); // 224 / 14 = 16 per side
    ConfigException e = assertThrows(ConfigException.class, () -> BagelConfig.readModelDir(dir));
    assertTrue(e.getMessage().contains("vit_max_num_patch_per_side 70"), e.getMessage());
  }

  @Test
  void writtenModelDirReadsBackEqual(@TempDir Path dir) {
    for (String name : new String[] {"bagel-7b-mot", "tiny"}) {
      BagelConfig c = BagelConfig.readModelDir(PRESETS.resolve(name));
      Path out = dir.resolve(name);
      c.writeModelDir(out);
      assertEquals(c, BagelConfig.readModelDir(out), name);
    }
    BagelConfig textOnly = BagelConfig.readModelDir(PRESETS.resolve("tiny")).withBranches(false, false);
    textOnly.writeModelDir(dir.resolve("text"));
    assertEquals(textOnly, BagelConfig.readModelDir(dir.resolve("text")));
  }

  @Test
  void missingModelFilesAreNamed(@TempDir Path dir) throws IOException {
    ConfigException e = assertThrows(ConfigException.class, () -> BagelConfig.readModelDir(dir));
    assertTrue(e.getMessage().contains("llm_config.json") && e.getMessage().contains("not found"), e.getMessage());
    Files.writeString(dir.resolve("llm_config.json"), LLM);
    e = assertThrows(ConfigException.class, () -> BagelConfig.readModelDir(dir));
    assertTrue(e.getMessage().contains("vit_config.json"), e.getMessage());
  }
}
