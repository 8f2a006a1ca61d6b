package ai.bakery.model.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VisionConfigsTest {
  @TempDir Path dir;

  @Test
  void readsSiglipVisionConfigAndKeepsLayersForSelectLayer() throws Exception {
    Path f = dir.resolve("vit_config.json");
    Files.writeString(f, """
        {"architectures": ["SiglipVisionModel"], "hidden_size": 1152, "intermediate_size": 4304,
         "num_hidden_layers": 27, "num_attention_heads": 16, "image_size": 980, "patch_size": 14,
         "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-6, "model_type": "siglip_vision_model",
         "torch_dtype": "bfloat16"}
        """);
    VitConfig c = VitConfig.read(f);
    assertEquals(VitConfig.SO400M_980, c);
    assertEquals(70, c.numPatchesPerSide());
    assertEquals(4900, c.numPositions());
    assertEquals(588, c.patchDim());
    assertEquals(72, c.headDim());
    assertFalse(c.rope());
    assertEquals(26, c.keepingLayersFor(-2).numHiddenLayers());
    assertEquals(27, c.keepingLayersFor(-1).numHiddenLayers());
  }

  @Test
  void acceptsFullSiglipConfigWithVisionSection() throws Exception {
    Path f = dir.resolve("config.json");
    Files.writeString(f, """
        {"text_config": {"hidden_size": 1152}, "vision_config": {"hidden_size": 64, "num_attention_heads": 4,
         "intermediate_size": 128, "num_hidden_layers": 3, "image_size": 28, "patch_size": 14}}
        """);
    VitConfig c = VitConfig.read(f);
    assertEquals(64, c.hiddenSize());
    assertEquals(2, c.numPatchesPerSide());
  }

  @Test
  void badVitFieldsAreNamed() throws Exception {
    Path f = dir.resolve("bad.json");
    Files.writeString(f, "{\"hidden_size\": 100, \"num_attention_heads\": 16}");
    ConfigException e = assertThrows(ConfigException.class, () -> VitConfig.read(f));
    assertTrue(e.getMessage().contains("hidden_size") && e.getMessage().contains("bad.json"), e.getMessage());
    Files.writeString(f, "{\"patch_size\": -3}");
    e = assertThrows(ConfigException.class, () -> VitConfig.read(f));
    assertTrue(e.getMessage().contains("patch_size"), e.getMessage());
    Files.writeString(f, "{\"hidden_act\": \"swishy\"}");
    e = assertThrows(ConfigException.class, () -> VitConfig.read(f));
    assertTrue(e.getMessage().contains("hidden_act"), e.getMessage());
    assertThrows(ConfigException.class, () -> VitConfig.SO400M_980.keepingLayersFor(-28));
  }

  @Test
  void fluxVaeDefaultsAndDownsample() throws Exception {
    assertEquals(8, VaeConfig.FLUX.downsample());
    assertEquals(0.3611, VaeConfig.FLUX.scaleFactor());
    assertEquals(0.1159, VaeConfig.FLUX.shiftFactor());
    Path f = dir.resolve("vae.json");
    Files.writeString(f, "{\"ch\": 32, \"ch_mult\": [1, 2], \"z_channels\": 4, \"extra\": 1}");
    VaeConfig c = VaeConfig.read(f);
    assertEquals(List.of(1, 2), c.chMult());
    assertEquals(2, c.downsample());
    assertEquals(16, VaeConfig.FLUX.zChannels());
  }

  @Test
  void badVaeFieldsAreNamed() throws Exception {
    Path f = dir.resolve("vae.json");
    Files.writeString(f, "{\"ch\": 32, \"ch_mult\": [1, 2], \"downsample\": 8}");
    ConfigException e = assertThrows(ConfigException.class, () -> VaeConfig.read(f));
    assertTrue(e.getMessage().contains("downsample"), e.getMessage());
    Files.writeString(f, "{\"ch\": 48}");
    e = assertThrows(ConfigException.class, () -> VaeConfig.read(f));
    assertTrue(e.getMessage().contains("ch"), e.getMessage());
    Files.writeString(f, "{\"ch_mult\": []}");
    e = assertThrows(ConfigException.class, () -> VaeConfig.read(f));
    assertTrue(e.getMessage().contains("ch_mult"), e.getMessage());
  }
}
